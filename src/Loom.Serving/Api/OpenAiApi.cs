using System.Text.Json;
using Loom.Serving.Engine;
using Microsoft.AspNetCore.Http;

namespace Loom.Serving.Api;

/// <summary>The /v1 endpoints: request parsing and validation, then the engine of the model asked for.</summary>
internal sealed class OpenAiApi(IReadOnlyList<BatchEngine> engines, long maxBodyBytes)
{
    private static readonly long Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public async Task Models(HttpContext ctx)
    {
        await WriteJson(ctx, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var e in engines) ModelObject(w, e);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public async Task Model(HttpContext ctx, string id)
    {
        var e = engines.FirstOrDefault(x => x.Model.Name == id) ?? throw UnknownModel(id);
        await WriteJson(ctx, w => ModelObject(w, e));
    }

    private static void ModelObject(Utf8JsonWriter w, BatchEngine e)
    {
        w.WriteStartObject();
        w.WriteString("id", e.Model.Name);
        w.WriteString("object", "model");
        w.WriteNumber("created", Created);
        w.WriteString("owned_by", "loom");
        w.WriteNumber("context_length", e.ContextLength);
        w.WriteEndObject();
    }

    public async Task ChatCompletions(HttpContext ctx)
    {
        using var doc = await RequestBody.ReadJson(ctx, maxBodyBytes);
        var a = new JsonArgs(doc.RootElement);
        var engine = Engine(a);
        var messages = ChatPrompt.Parse(a);
        var args = GenerationArgs.Parse(a, chat: true);
        var ids = ChatPrompt.Encode(engine.Model, messages, out var formatStops);
        await new GenerationEndpoint(engine, args, chat: true, "messages").RunAsync(ctx, [ids], formatStops);
    }

    public async Task Completions(HttpContext ctx)
    {
        using var doc = await RequestBody.ReadJson(ctx, maxBodyBytes);
        var a = new JsonArgs(doc.RootElement);
        var engine = Engine(a);
        var args = GenerationArgs.Parse(a, chat: false);
        if (a.Bool("echo", false)) throw ApiException.Invalid("echo", "'echo' is not supported");
        var prompts = TokenInputs(a, "prompt", engine, required: true);
        if (prompts.Count * args.N > GenerationArgs.MaxChoices)
            throw ApiException.Invalid("prompt", $"{prompts.Count} prompts x n={args.N} exceeds {GenerationArgs.MaxChoices} choices per request");
        await new GenerationEndpoint(engine, args, chat: false, "prompt").RunAsync(ctx, prompts, []);
    }

    public async Task Embeddings(HttpContext ctx)
    {
        using var doc = await RequestBody.ReadJson(ctx, maxBodyBytes);
        var a = new JsonArgs(doc.RootElement);
        var engine = Engine(a);
        string format = a.String("encoding_format") ?? "float";
        if (format is not ("float" or "base64")) throw ApiException.Invalid("encoding_format", $"'encoding_format' must be 'float' or 'base64', got '{format}'");
        if (a.Has("dimensions")) throw ApiException.Invalid("dimensions", "'dimensions' is not supported: the embedding size is the model's hidden size");
        var inputs = TokenInputs(a, "input", engine, required: true);
        if (inputs.Count > 256) throw ApiException.Invalid("input", $"at most 256 inputs per request, got {inputs.Count}");
        if (!engine.Model.CanEmbed) throw new ApiException(501, $"model {engine.Model.Name} does not provide embeddings yet", "model", "not_implemented");
        var vectors = new List<float[]>();
        int tokens = 0;
        foreach (var ids in inputs)
        {
            if (ids.Length == 0) throw ApiException.Invalid("input", "an input is empty");
            try { vectors.Add(await engine.EmbedAsync(ids)); }
            catch (PromptTooLongException e) { throw new ApiException(400, e.Message.Replace("prompt", "input"), "input", "context_length_exceeded"); }
            tokens += ids.Length;
        }
        await WriteJson(ctx, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (int i = 0; i < vectors.Count; i++)
            {
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WriteNumber("index", i);
                if (format == "base64") w.WriteString("embedding", Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vectors[i].AsSpan())));
                else
                {
                    w.WriteStartArray("embedding");
                    foreach (var v in vectors[i]) w.WriteNumberValue(v);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("model", engine.Model.Name);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", tokens);
            w.WriteNumber("total_tokens", tokens);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary>"prompt"/"input": a string, an array of strings, an array of token ids, or an array of such arrays.</summary>
    private static List<int[]> TokenInputs(JsonArgs a, string name, BatchEngine engine, bool required)
    {
        var tok = engine.Model.Tokenizer;
        if (a.Get(name) is not { } v)
        {
            if (required) throw new ApiException(400, $"'{name}' is required", name, "missing_required_parameter");
            return [];
        }
        int vocab = tok.VocabSize;
        int[] Ids(JsonElement arr)
        {
            var ids = new List<int>();
            foreach (var t in arr.EnumerateArray())
            {
                if (t.ValueKind != JsonValueKind.Number || !t.TryGetInt32(out int id) || id < 0 || id >= vocab)
                    throw ApiException.Invalid(name, $"'{name}' token ids must be integers in [0, {vocab})");
                ids.Add(id);
            }
            return ids.ToArray();
        }
        int[] Text(string s) => tok.Encode(s, addSpecial: true, parseSpecial: false);
        if (v.ValueKind == JsonValueKind.String) return [Text(v.GetString()!)];
        if (v.ValueKind != JsonValueKind.Array) throw ApiException.Invalid(name, $"'{name}' must be a string, an array of strings, or token ids");
        if (v.GetArrayLength() == 0) throw ApiException.Invalid(name, $"'{name}' must not be empty");
        var first = v[0];
        if (first.ValueKind == JsonValueKind.Number) return [Ids(v)];
        var list = new List<int[]>();
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind == JsonValueKind.String) list.Add(Text(e.GetString()!));
            else if (e.ValueKind == JsonValueKind.Array) list.Add(Ids(e));
            else throw ApiException.Invalid(name, $"'{name}' must be a string, an array of strings, or token ids");
        }
        return list;
    }

    private BatchEngine Engine(JsonArgs a)
    {
        string? name = a.String("model");
        if (name == null) return engines[0];
        return engines.FirstOrDefault(e => e.Model.Name == name) ?? throw UnknownModel(name);
    }

    private ApiException UnknownModel(string name) =>
        new(404, $"the model '{name}' does not exist; this server has {string.Join(", ", engines.Select(e => e.Model.Name))}", "model", "model_not_found");

    private static async Task WriteJson(HttpContext ctx, Action<Utf8JsonWriter> write)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, JsonOutput.Options)) write(w);
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(ms.GetBuffer().AsMemory(0, (int)ms.Length));
    }
}
