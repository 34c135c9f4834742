using System.Text;
using Loom.Text.Chat;

namespace Loom.Text.Tests;

/// <summary>Hostile and mutated templates: every one either renders or throws ChatTemplateException; none crashes,
/// overflows the stack, hangs or exhausts memory.</summary>
public class ChatTemplateFuzzTests
{
    private static readonly string[] Pieces =
    [
        "{{", "}}", "{%", "%}", "{#", "#}", "{%-", "-%}", "{{-", "-}}", "(", ")", "[", "]", "{", "}", "'", "\"", "|", ".", ",", ":",
        " not ", " in ", " is ", " and ", " or ", " if ", " else ", "for", "endfor", "if", "endif", "set", "endset", "macro",
        "endmacro", "loop", "~", "*", "//", "%", "**", "-", "+", "==", "=", "\n", "  ", "\\", "0", "-1", "99999999999999999999999",
        "1e999", "none", "messages", "[::-1]", "|tojson", "|trim", "|length", "|items", "|join", "raise_exception", "range(", "ns.",
        "namespace(", "break", "continue", "raw", "endraw", "caller()", "😀", "\u0000",
    ];

    private static readonly Dictionary<string, object?> Vars = new()
    {
        ["messages"] = new List<object?>
        {
            new Dictionary<string, object?> { ["role"] = "system", ["content"] = "sys" },
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi {{ x }}" },
            new Dictionary<string, object?>
            {
                ["role"] = "assistant", ["content"] = "",
                ["tool_calls"] = new List<object?> { new Dictionary<string, object?> { ["type"] = "function", ["function"] = new Dictionary<string, object?> { ["name"] = "f", ["arguments"] = new Dictionary<string, object?> { ["a"] = 1 } } } },
            },
            new Dictionary<string, object?> { ["role"] = "tool", ["content"] = "42" },
        },
        ["tools"] = new List<object?> { new Dictionary<string, object?> { ["type"] = "function", ["function"] = new Dictionary<string, object?> { ["name"] = "f", ["parameters"] = new Dictionary<string, object?>() } } },
        ["add_generation_prompt"] = true,
    };

    private static void RendersOrFailsCleanly(string source)
    {
        try
        {
            new ChatTemplate(source, "<s>", "</s>").RenderVariables(Vars);
        }
        catch (ChatTemplateException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"{e.GetType().Name}: {e.Message}\n--- template ---\n{source}");
        }
    }

    [Fact]
    public void Mutated_real_templates_render_or_fail_cleanly()
    {
        var sources = Directory.GetFiles(TestData.Fixture("chat_templates"), "*.jinja").Order(StringComparer.Ordinal).Select(File.ReadAllText).ToArray();
        var rng = new Random(20250314);
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("LOOM_FUZZ_ITERATIONS"), out int n) ? n : 3000;
        for (int i = 0; i < iterations; i++)
        {
            var s = new StringBuilder(sources[rng.Next(sources.Length)]);
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits && s.Length > 0; e++)
            {
                int at = rng.Next(s.Length);
                switch (rng.Next(4))
                {
                    case 0: s.Remove(at, Math.Min(1 + rng.Next(8), s.Length - at)); break;
                    case 1: s.Insert(at, Pieces[rng.Next(Pieces.Length)]); break;
                    case 2:
                    {
                        int len = Math.Min(1 + rng.Next(40), s.Length - at);
                        s.Insert(rng.Next(s.Length), s.ToString(at, len));
                        break;
                    }
                    default: s[at] = Pieces[rng.Next(Pieces.Length)][0]; break;
                }
            }
            RendersOrFailsCleanly(s.ToString());
        }
    }

    public static TheoryData<string, string> Hostile() => new()
    {
        { "deep parentheses", "{{ " + new string('(', 100_000) + "1" + new string(')', 100_000) + " }}" },
        { "deep lists", "{{ " + new string('[', 50_000) + " }}" },
        { "deep not", "{{ " + string.Concat(Enumerable.Repeat("not ", 100_000)) + "x }}" },
        { "deep unary minus", "{{ " + new string('-', 100_000) + "1 }}" },
        { "long operator chain", "{{ 1" + string.Concat(Enumerable.Repeat(" + 1", 100_000)) + " }}" },
        { "long filter chain", "{{ 'x'" + string.Concat(Enumerable.Repeat("|trim", 100_000)) + " }}" },
        { "long attribute chain", "{{ x" + string.Concat(Enumerable.Repeat(".a", 100_000)) + " }}" },
        { "deep blocks", string.Concat(Enumerable.Repeat("{% if true %}", 50_000)) + string.Concat(Enumerable.Repeat("{% endif %}", 50_000)) },
        { "nested loops", "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}x{% endfor %}{% endfor %}{% endfor %}" },
        { "string doubling", "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}" },
        { "list doubling", "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}" },
        { "string repeat", "{{ 'x' * 99999999999 }}" },
        { "huge range", "{{ range(99999999999) | length }}" },
        { "infinite macro recursion", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}" },
        { "huge power", "{{ 2 ** 99999999999 }}" },
        { "huge integer", "{{ 99999999999999999999999999 }}" },
        { "overflow", "{{ 9223372036854775807 + 1 }}{{ -9223372036854775807 - 2 }}{{ 9223372036854775807 * 2 }}" },
        { "int min div", "{{ (-9223372036854775807 - 1) // -1 }}{{ (-9223372036854775807 - 1) % -1 }}" },
        { "bad unicode escape", "{{ '\\U99999999' }}" },
        { "lone surrogate", "{{ '\\ud800' | tojson }}" },
        { "self-referential namespace", "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}" },
        { "tojson of callable", "{{ range | tojson }}" },
        { "deeply nested list", "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}{{ ns.l | tojson }}{{ ns.l == ns.l }}" },
        { "list repeat overflow", "{{ [1, 2] * 9223372036854775807 }}{{ 'ab' * 9223372036854775807 }}" },
        { "call non-callable", "{{ messages() }}{{ 1(2) }}" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_templates_fail_cleanly(string name, string source)
    {
        Assert.NotNull(name);
        RendersOrFailsCleanly(source);
    }
}
