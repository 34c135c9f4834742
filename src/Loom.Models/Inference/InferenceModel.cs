using System.Text.Json;
using Loom.Formats;
using Loom.Models.Generation;
using Loom.Models.Gguf;
using Loom.Models.Llama;
using Loom.Text;
using Loom.Text.Chat;
using Loom.Text.Sampling;

namespace Loom.Models.Inference;

/// <summary>How a model is loaded for inference.</summary>
public sealed record InferenceOptions
{
    /// <summary>Precision of the KV caches the model's batches allocate.</summary>
    public KvCacheType CacheType { get; init; } = KvCacheType.F32;
}

/// <summary>
/// A language model ready to run: a GGUF file (weights stay memory-mapped in their file types) or a Loom / Hugging Face
/// model folder (config.json + model.safetensors + tokenizer.json), with its tokenizer and chat template.
/// </summary>
public sealed class InferenceModel : IDisposable
{
    private readonly IDisposable? _owner;

    private InferenceModel(DecoderModel decoder, ITokenizer tokenizer, ChatTemplate? template, string name, InferenceOptions options, IDisposable? owner, GgufFile? file)
    {
        Decoder = decoder;
        Tokenizer = tokenizer;
        ChatTemplate = template;
        Name = name;
        Options = options;
        _owner = owner;
        File = file;
    }

    public DecoderModel Decoder { get; }
    public ITokenizer Tokenizer { get; }
    public ChatTemplate? ChatTemplate { get; }
    public InferenceOptions Options { get; }
    /// <summary>The open GGUF file, when loaded from one.</summary>
    public GgufFile? File { get; }
    public string Architecture => Decoder.Config.Architecture;
    public string Name { get; }
    public int ContextLength => Decoder.Config.ContextLength;
    public int VocabSize => Decoder.Config.VocabSize;

    /// <summary>Loads a .gguf file or a model folder.</summary>
    public static InferenceModel Load(string path, InferenceOptions? options = null)
    {
        options ??= new InferenceOptions();
        if (Directory.Exists(path)) return LoadFolder(path, options);
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"{path}: no such model file or folder", path);
        var file = GgufFile.Open(path);
        try
        {
            var decoder = GgufDecoder.Load(file);
            var tokenizer = GgufTokenizer.Load(file);
            if (tokenizer.VocabSize > decoder.Config.VocabSize)
                throw new ModelFileException(path, $"the tokenizer has {tokenizer.VocabSize} tokens but token_embd.weight has {decoder.Config.VocabSize} rows");
            ChatTemplate? template = null;
            if (file.Get("tokenizer.chat_template") is { Type: GgufValueType.String } t)
                template = new ChatTemplate(t.AsString(), Spelling(tokenizer, tokenizer.BosId), Spelling(tokenizer, tokenizer.EosId));
            string name = file.Get("general.name") is { Type: GgufValueType.String } n ? n.AsString() : Path.GetFileNameWithoutExtension(path);
            return new InferenceModel(decoder, tokenizer, template, name, options, file, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static string Spelling(ITokenizer t, int? id) => id is int i && i >= 0 && i < t.VocabSize ? t.TokenString(i) : "";

    private static InferenceModel LoadFolder(string dir, InferenceOptions options)
    {
        var (model, tokenizer) = ModelFolder.Load(dir);
        var decoder = LlamaBatchedLm.FromLlama(model);
        ChatTemplate? template = null;
        string cfg = Path.Combine(dir, "tokenizer_config.json");
        if (System.IO.File.Exists(cfg))
        {
            try
            {
                using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(cfg));
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("chat_template", out var ct) && ct.ValueKind == JsonValueKind.String)
                    template = new ChatTemplate(ct.GetString()!, Spelling(tokenizer, tokenizer.BosId), Spelling(tokenizer, tokenizer.EosId));
            }
            catch (JsonException e) { throw new ModelFileException(cfg, "malformed JSON: " + e.Message, e); }
        }
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        return new InferenceModel(decoder, tokenizer, template, name, options, null, null);
    }

    /// <summary>A batch of <paramref name="slots"/> sequences of up to <paramref name="contextLength"/> tokens.</summary>
    public IBatchedLm CreateBatch(int slots, int contextLength, bool batchInvariant = false) => Decoder.CreateBatch(slots, contextLength, Options.CacheType, batchInvariant);

    /// <summary>Logits of a fresh sequence: the last position's row, or one row of VocabSize per position.</summary>
    public float[] Logits(ReadOnlySpan<int> tokens, bool allPositions)
    {
        CheckLength(tokens.Length);
        using var batch = Decoder.CreateBatch(1, tokens.Length, Options.CacheType);
        var output = new float[(allPositions ? tokens.Length : 1) * (long)VocabSize];
        batch.Run([new BatchRow(0, tokens.ToArray())], allPositions ? DecoderBatch.OutputMode.AllLogits : DecoderBatch.OutputMode.LastLogits, output);
        return output;
    }

    /// <summary>Mean of the final-norm hidden states over the tokens, L2-normalised (a sentence embedding).</summary>
    public float[] Embed(ReadOnlySpan<int> tokens)
    {
        CheckLength(tokens.Length);
        int dim = Decoder.Config.Dim;
        using var batch = Decoder.CreateBatch(1, tokens.Length, Options.CacheType);
        var hidden = new float[tokens.Length * dim];
        batch.Run([new BatchRow(0, tokens.ToArray())], DecoderBatch.OutputMode.AllHidden, hidden);
        var mean = new double[dim];
        for (int t = 0; t < tokens.Length; t++)
            for (int i = 0; i < dim; i++) mean[i] += hidden[t * dim + i];
        double norm = Math.Sqrt(mean.Sum(v => v * v));
        var e = new float[dim];
        for (int i = 0; i < dim; i++) e[i] = norm > 0 ? (float)(mean[i] / norm) : 0f;
        return e;
    }

    private void CheckLength(int n)
    {
        if (n == 0) throw new ArgumentException("no tokens");
        if (n > ContextLength) throw new ArgumentException($"{n} tokens exceed the model's context of {ContextLength}");
    }

    /// <summary>Encodes a prompt as the tokenizer says (BOS when the file asks for it) and generates a continuation.</summary>
    public GenerationResult Generate(string prompt, SamplerOptions options, int maxTokens, IReadOnlyList<string>? stops = null,
        Action<string>? onText = null, CancellationToken ct = default)
    {
        var ids = Tokenizer.Encode(prompt, addSpecial: true, parseSpecial: true);
        return Generate(ids, options, maxTokens, stops, onText, ct);
    }

    /// <summary>Generates from token ids with a fresh one-slot batch sized to the prompt plus <paramref name="maxTokens"/>.</summary>
    public GenerationResult Generate(int[] promptIds, SamplerOptions options, int maxTokens, IReadOnlyList<string>? stops = null,
        Action<string>? onText = null, CancellationToken ct = default)
    {
        int ctx = Math.Min(ContextLength, Math.Max(1, promptIds.Length) + Math.Max(0, maxTokens));
        using var lm = CreateBatch(1, ctx);
        return new LmGenerator(lm, Tokenizer).Generate(promptIds, options, maxTokens, stops, onText, ct);
    }

    public void Dispose() => _owner?.Dispose();
}
