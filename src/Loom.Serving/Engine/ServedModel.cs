using Loom.Models.Inference;
using Loom.Text;
using Loom.Text.Chat;

namespace Loom.Serving.Engine;

/// <summary>A loaded model as the server sees it: its name, tokenizer, chat template, context, and how to make a batched runner.</summary>
public sealed class ServedModel : IDisposable
{
    private readonly Func<int, int, IBatchedLm> _createBatch;
    private readonly Func<int[], float[]>? _embed;
    private readonly IDisposable? _owner;

    public ServedModel(string name, ITokenizer tokenizer, ChatTemplate? chatTemplate, int contextLength, long kvBytesPerToken,
        Func<int, int, IBatchedLm> createBatch, Func<int[], float[]>? embed, IDisposable? owner = null)
    {
        Name = name;
        Tokenizer = tokenizer;
        ChatTemplate = chatTemplate;
        ContextLength = contextLength;
        KvBytesPerToken = kvBytesPerToken;
        _createBatch = createBatch;
        _embed = embed;
        _owner = owner;
    }

    /// <summary>The id clients name in "model".</summary>
    public string Name { get; }
    public ITokenizer Tokenizer { get; }
    public ChatTemplate? ChatTemplate { get; }

    /// <summary>The context the model was trained on.</summary>
    public int ContextLength { get; }

    /// <summary>Bytes of keys and values one cached token takes over all layers.</summary>
    public long KvBytesPerToken { get; }

    public bool CanEmbed => _embed != null;

    public IBatchedLm CreateBatch(int slots, int contextLength) => _createBatch(slots, contextLength);

    /// <summary>A sentence embedding of the tokens (not thread-safe against itself: callers serialise).</summary>
    public float[] Embed(int[] tokens) => (_embed ?? throw new NotSupportedException($"model {Name} does not provide embeddings"))(tokens);

    public void Dispose() => _owner?.Dispose();

    /// <summary>Loads a GGUF file or a model folder (config.json, model.safetensors, tokenizer.json).</summary>
    public static ServedModel Load(string path)
    {
        var model = InferenceModel.Load(path);
        long kvPerToken = model.Decoder.Config.KvBytesPerToken(model.Options.CacheType);
        return new ServedModel(model.Name, model.Tokenizer, model.ChatTemplate, model.ContextLength, kvPerToken,
            // Batch-invariant: a request gets the same tokens alone and in any batch (same seed, same text).
            (slots, ctx) => model.CreateBatch(slots, ctx, batchInvariant: true), tokens => model.Embed(tokens), model);
    }
}
