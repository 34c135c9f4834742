using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Loom.Text.Chat;

namespace Loom.Text.Tests;

/// <summary>Every committed real chat template, rendered over every conversation, equals Python Jinja2's output
/// (tests/fixtures/chat_templates/expected.json.gz, written by tools/fixtures/gen_chat_templates.py).</summary>
public class ChatTemplateOracleTests
{
    private sealed record Oracle(JsonElement Root, DateTime Now);

    private static readonly Lazy<Oracle> Expected = new(() =>
    {
        using var gz = new GZipStream(File.OpenRead(Path.Combine(Dir, "expected.json.gz")), CompressionMode.Decompress);
        var doc = JsonDocument.Parse(gz);
        var now = DateTime.Parse(doc.RootElement.GetProperty("now").GetString()!, CultureInfo.InvariantCulture);
        return new Oracle(doc.RootElement, now);
    });

    private static string Dir => TestData.Fixture("chat_templates");

    public static TheoryData<string, string, bool, int> Cases()
    {
        var data = new TheoryData<string, string, bool, int>();
        int i = 0;
        foreach (var c in Expected.Value.Root.GetProperty("cases").EnumerateArray())
            data.Add(c.GetProperty("template").GetString()!, c.GetProperty("conversation").GetString()!, c.GetProperty("add_generation_prompt").GetBoolean(), i++);
        return data;
    }

    private static readonly Dictionary<string, ChatTemplate> Templates = new();

    private static ChatTemplate Template(string name)
    {
        lock (Templates)
        {
            if (Templates.TryGetValue(name, out var t)) return t;
            var tokens = Expected.Value.Root.GetProperty("templates").GetProperty(name);
            t = new ChatTemplate(File.ReadAllText(Path.Combine(Dir, name + ".jinja")),
                tokens.GetProperty("bos_token").GetString()!, tokens.GetProperty("eos_token").GetString()!)
            { Clock = () => Expected.Value.Now };
            Templates[name] = t;
            return t;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_exactly_as_jinja2(string template, string conversation, bool addGenerationPrompt, int index)
    {
        var c = Expected.Value.Root.GetProperty("cases")[index];
        var conv = Expected.Value.Root.GetProperty("conversations").GetProperty(conversation);
        var vars = new Dictionary<string, object?>
        {
            ["messages"] = conv.GetProperty("messages"),
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        if (conv.TryGetProperty("tools", out var tools)) vars["tools"] = tools;
        if (conv.TryGetProperty("extra", out var extra))
            foreach (var p in extra.EnumerateObject()) vars[p.Name] = p.Value;
        var tmpl = Template(template);
        if (c.TryGetProperty("output", out var output))
        {
            Assert.Equal(output.GetString(), tmpl.RenderVariables(vars));
            return;
        }
        var e = Assert.Throws<ChatTemplateException>(() => tmpl.RenderVariables(vars));
        if (c.GetProperty("error_kind").GetString() == "raise")
            Assert.Equal(c.GetProperty("error_message").GetString(), e.Problem);
    }

    [Fact]
    public void Fixture_covers_the_model_families()
    {
        var names = Expected.Value.Root.GetProperty("templates").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var family in new[] { "llama3.1-instruct", "llama3.2-instruct", "qwen2.5-instruct", "qwen3", "mistral-nemo-instruct", "phi3.5-mini-instruct", "gemma2-it", "gemma3", "smollm3", "deepseek-v3" })
            Assert.Contains(family, names);
        int rendered = Expected.Value.Root.GetProperty("cases").EnumerateArray().Count(c => c.TryGetProperty("output", out _));
        Assert.True(rendered >= 2000, $"only {rendered} rendered cases");
    }
}
