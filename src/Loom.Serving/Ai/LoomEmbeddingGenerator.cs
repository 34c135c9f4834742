using Loom.Serving.Engine;
using Microsoft.Extensions.AI;

namespace Loom.Serving.Ai;

/// <summary>Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over a Loom engine's model, in-process.</summary>
public sealed class LoomEmbeddingGenerator(BatchEngine engine) : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly EmbeddingGeneratorMetadata _metadata = new("loom", null, engine.Model.Name);

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (options?.ModelId is { } m && m != engine.Model.Name) throw new ArgumentException($"this generator serves model '{engine.Model.Name}', not '{m}'");
        var result = new GeneratedEmbeddings<Embedding<float>>();
        long tokens = 0;
        foreach (var text in values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ids = engine.Model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
            if (ids.Length == 0) throw new ArgumentException("cannot embed an empty text");
            var vector = await engine.EmbedAsync(ids);
            if (options?.Dimensions is int d && d != vector.Length) throw new ArgumentException($"this model's embeddings have {vector.Length} dimensions, not {d}");
            result.Add(new Embedding<float>(vector) { ModelId = engine.Model.Name, CreatedAt = DateTimeOffset.UtcNow });
            tokens += ids.Length;
        }
        result.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
        return result;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey != null ? null : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata : serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
