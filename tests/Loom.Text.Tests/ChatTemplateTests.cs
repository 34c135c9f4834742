using Loom.Text.Chat;

namespace Loom.Text.Tests;

/// <summary>The ChatTemplate API and the interpreter's error reporting: syntax errors name the line, runtime errors
/// name what failed, raise_exception passes the template's message through.</summary>
public class ChatTemplateTests
{
    private const string ChatMl =
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    [Fact]
    public void Renders_chat_messages_with_and_without_generation_prompt()
    {
        var t = new ChatTemplate(ChatMl);
        var messages = new[] { new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi") };
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", t.Render(messages));
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n", t.Render(messages, addGenerationPrompt: false));
    }

    [Fact]
    public void Passes_special_tokens_and_extra_variables()
    {
        var t = new ChatTemplate("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}{% if flag %}+{{ n * 2 }}{% endif %}", "<s>", "</s>");
        var extra = new Dictionary<string, object?> { ["flag"] = true, ["n"] = 21 };
        Assert.Equal("<s>x</s>+42", t.Render([new ChatMessage("user", "x")], true, extra));
    }

    [Fact]
    public void RenderVariables_accepts_dictionaries_with_tool_calls()
    {
        var t = new ChatTemplate("{% for m in messages %}{% for c in m.tool_calls %}{{ c.function.name }}({{ c.function.arguments | tojson }}){% endfor %}{% endfor %}");
        var call = new Dictionary<string, object?> { ["function"] = new Dictionary<string, object?> { ["name"] = "f", ["arguments"] = new Dictionary<string, object?> { ["x"] = 1, ["y"] = "é" } } };
        var msg = new Dictionary<string, object?> { ["role"] = "assistant", ["tool_calls"] = new List<object?> { call } };
        Assert.Equal("f({\"x\": 1, \"y\": \"é\"})", t.RenderVariables(new Dictionary<string, object?> { ["messages"] = new[] { msg } }));
    }

    [Fact]
    public void Raise_exception_message_reaches_the_caller()
    {
        var t = new ChatTemplate("{% if messages[0]['role'] == 'system' %}\n{{ raise_exception('System role not supported') }}\n{% endif %}ok");
        var e = Assert.Throws<ChatTemplateException>(() => t.Render([new ChatMessage("system", "x")]));
        Assert.Equal("System role not supported", e.Problem);
        Assert.Equal(2, e.Line);
        Assert.Equal("ok", t.Render([new ChatMessage("user", "x")]));
    }

    [Theory]
    [InlineData("line one\n{% if x %}\nno end", 2, "endif")]
    [InlineData("a\nb\n{{ 1 + }}", 3, "unexpected")]
    [InlineData("{% for x in %}{% endfor %}", 1, "unexpected")]
    [InlineData("\n\n\n{% frobnicate %}", 4, "unknown statement 'frobnicate'")]
    [InlineData("x\n{{ 'unterminated }}", 2, "unterminated string")]
    [InlineData("{# never closed", 1, "comment")]
    [InlineData("ok\n{% if x %}{% endfor %}", 2, "endfor")]
    [InlineData("{{ x ) }}", 1, "')'")]
    [InlineData("{% set %}", 1, "expected a name")]
    [InlineData("{{ a }\n}", 1, "")]
    public void Syntax_errors_name_the_line(string source, int line, string mentions)
    {
        var e = Assert.Throws<ChatTemplateException>(() => new ChatTemplate(source));
        Assert.Equal(line, e.Line);
        Assert.Contains(mentions, e.Message);
        Assert.Contains($"line {line}", e.Message);
    }

    [Theory]
    [InlineData("a\n{{ 'x' | frobnicate }}", "unknown filter 'frobnicate'", 2)]
    [InlineData("{{ 1 is frobnicated }}", "unknown test 'frobnicated'", 1)]
    [InlineData("{{ missing.attr }}", "'missing' is undefined", 1)]
    [InlineData("{{ messages[5]['role'] }}", "no element 5", 1)]
    [InlineData("\n\n{{ 'a' + 1 }}", "unsupported operand type(s) for +: 'str' and 'int'", 3)]
    [InlineData("{{ 1 // 0 }}", "division or modulo by zero", 1)]
    [InlineData("{{ nothing() }}", "'nothing' is undefined", 1)]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "not a namespace", 1)]
    [InlineData("{{ messages.append(1) }}", "forbids", 1)]
    [InlineData("{% for a, b in [[1, 2, 3]] %}{% endfor %}", "cannot unpack 3 values", 1)]
    public void Runtime_errors_name_the_problem_and_line(string source, string mentions, int line)
    {
        var t = new ChatTemplate(source);
        var e = Assert.Throws<ChatTemplateException>(() => t.Render([new ChatMessage("user", "x")]));
        Assert.Contains(mentions, e.Message);
        Assert.Equal(line, e.Line);
    }

    [Fact]
    public void Undefined_values_print_empty_and_are_falsy()
    {
        var t = new ChatTemplate("[{{ nope }}][{{ messages[0].nope }}][{% if nope %}t{% else %}f{% endif %}][{{ nope | length }}][{{ nope is defined }}]");
        Assert.Equal("[][][f][0][False]", t.Render([new ChatMessage("user", "x")]));
    }

    [Fact]
    public void Runaway_macro_recursion_is_an_error_not_a_crash()
    {
        var t = new ChatTemplate("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        var e = Assert.Throws<ChatTemplateException>(() => t.Render([]));
        Assert.Contains("recursion", e.Message);
    }

    [Fact]
    public void Strftime_now_reads_the_clock()
    {
        var t = new ChatTemplate("{{ strftime_now('%d %b %Y') }}") { Clock = () => new DateTime(2024, 7, 26) };
        Assert.Equal("26 Jul 2024", t.Render([]));
    }
}
