using System.Globalization;
using System.Text.Json;
using Loom.Text.Chat;

namespace Loom.Text.Tests;

/// <summary>One small template per interpreter feature (whitespace control, loops, filters, tests, operators,
/// printing, tojson ...), each equal to Python Jinja2's output in tests/fixtures/chat_templates/snippets.json.</summary>
public class ChatTemplateSnippetTests
{
    private static readonly Lazy<JsonElement> Snippets = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(TestData.Fixture(Path.Combine("chat_templates", "snippets.json")))).RootElement);

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var s in Snippets.Value.GetProperty("snippets").EnumerateArray()) data.Add(s.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Renders_exactly_as_jinja2(string name)
    {
        var s = Snippets.Value.GetProperty("snippets").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var now = DateTime.Parse(Snippets.Value.GetProperty("now").GetString()!, CultureInfo.InvariantCulture);
        var template = new ChatTemplate(s.GetProperty("source").GetString()!) { Clock = () => now };
        var vars = s.GetProperty("variables").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value);
        Assert.Equal(s.GetProperty("output").GetString(), template.RenderVariables(vars));
    }
}
