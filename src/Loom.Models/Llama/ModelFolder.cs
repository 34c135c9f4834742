using Loom.Formats;
using Loom.Tensors;
using Loom.Text;

namespace Loom.Models.Llama;

/// <summary>
/// A model on disk in the Hugging Face layout: config.json, model.safetensors and tokenizer.json in one folder.
/// Written file by file atomically; loading validates the config and every tensor's name and shape.
/// </summary>
public static class ModelFolder
{
    public const string ConfigFile = "config.json", WeightsFile = "model.safetensors", TokenizerFile = "tokenizer.json";

    public static void Save(string dir, LlamaModel model, BpeTokenizer tokenizer, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.Write(Path.Combine(dir, ConfigFile), s => s.Write(System.Text.Encoding.UTF8.GetBytes(model.Config.ToJson())));
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (metadata != null) foreach (var (k, v) in metadata) meta[k] = v;
        SafeTensorsFile.Save(Path.Combine(dir, WeightsFile), model.StateDict(), meta);
        TokenizerJson.Save(tokenizer, Path.Combine(dir, TokenizerFile));
    }

    /// <summary>Loads the model (weights copied into pooled memory) and its tokenizer.</summary>
    public static (LlamaModel Model, BpeTokenizer Tokenizer) Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: model folder not found");
        foreach (var f in new[] { ConfigFile, WeightsFile, TokenizerFile })
            if (!File.Exists(Path.Combine(dir, f))) throw new FileNotFoundException($"{Path.Combine(dir, f)}: missing ({dir} should hold {ConfigFile}, {WeightsFile} and {TokenizerFile})");
        var config = LlamaConfig.Load(Path.Combine(dir, ConfigFile));
        var tokenizer = TokenizerJson.Load(Path.Combine(dir, TokenizerFile));
        if (tokenizer.VocabSize > config.VocabSize)
            throw new ArgumentException($"{dir}: tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {config.VocabSize}");
        LlamaModel model;
        using (TensorScope.Suspend()) model = new LlamaModel(config, new Rng(0));
        string weights = Path.Combine(dir, WeightsFile);
        using (var f = SafeTensorsFile.Open(weights))
        {
            try { model.LoadStateDict(f.Tensors); }
            catch (Exception e) when (e is KeyNotFoundException or ArgumentException) { throw new ModelFileException(weights, e.Message, e); }
        }
        model.Eval();
        return (model, tokenizer);
    }
}
