using Loom.Models.Gguf;
using Loom.Models.Inference;
using Loom.Serving.Hosting;
using Loom.Tensors.Quant;
using Loom.Testing;

namespace Loom.Serving.Tests;

/// <summary>
/// Two models on one server: the bundled folder model and a small random-weight GGUF with Llama 3.1's tokenizer and
/// chat template, so chat requests to it go through the template (not the fallback format).
/// </summary>
public sealed class GgufTemplateTests : IAsyncLifetime
{
    private string _dir = "";
    private string _gguf = "";
    private LoomServer _server = null!;

    public async Task InitializeAsync()
    {
        _dir = Path.Combine(Path.GetTempPath(), "loom-serve-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
        _gguf = Path.Combine(_dir, "chat.gguf");
        string tokDir = Path.Combine(Fixtures.RepoRoot, "data", "tokenizers");
        var vocab = GgufTokenizer.FromTokenizerJson(Path.Combine(tokDir, "llama3_1", "tokenizer.json.gz"), Path.Combine(tokDir, "llama3_1", "tokenizer_config.json"));
        TestModelWriter.Write(_gguf, "llama", GgmlType.Q8_0, 3, vocab, new TestModelShape("mini", 64, 1, 2, 1, 32, 128, 512));
        _server = await LoomServer.StartAsync(new ServerOptions { Models = [ServerFixture.ModelPath, _gguf], Port = 0, Parallel = 2 });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public async Task ChatWithAGgufModelUsesItsChatTemplate()
    {
        using var http = new HttpClient { BaseAddress = _server.Url };
        var models = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("v1/models")).RootElement.GetProperty("data");
        Assert.Equal(2, models.GetArrayLength());
        Assert.Equal("default", models[0].GetProperty("id").GetString());
        string name = models[1].GetProperty("id").GetString()!;
        Assert.StartsWith("loom-test-mini", name);

        var messages = new[] { new { role = "system", content = "Be terse." }, new { role = "user", content = "Hello!" } };
        var (status, body) = await ServerFixture.PostAsync(http, "v1/chat/completions", ServerFixture.Json(new { model = name, messages, max_tokens = 3, seed = 1 }));
        Assert.Equal(200, status);
        Assert.Equal(name, body.GetProperty("model").GetString());

        // The prompt is the template's rendering, special tokens included.
        using var model = InferenceModel.Load(_gguf);
        Assert.NotNull(model.ChatTemplate);
        string rendered = model.ChatTemplate!.Render([new("system", "Be terse."), new("user", "Hello!")], addGenerationPrompt: true);
        Assert.Contains("<|start_header_id|>assistant<|end_header_id|>", rendered);
        int expected = model.Tokenizer.Encode(rendered, addSpecial: true, parseSpecial: true).Length;
        Assert.Equal(expected, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        // The same conversation to the folder model (no template) uses the plain fallback.
        var (s2, b2) = await ServerFixture.PostAsync(http, "v1/chat/completions", ServerFixture.Json(new { model = "default", messages, max_tokens = 3, seed = 1 }));
        Assert.Equal(200, s2);
        Assert.Equal("default", b2.GetProperty("model").GetString());
    }
}
