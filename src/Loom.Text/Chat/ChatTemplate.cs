using Loom.Text.Chat.Jinja;

namespace Loom.Text.Chat;

/// <summary>One chat turn: a role ("system", "user", "assistant", "tool") and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A model's chat template (the Jinja source from GGUF <c>tokenizer.chat_template</c> or tokenizer_config.json),
/// rendered to the prompt text the model was trained on, as Hugging Face transformers renders it
/// (Jinja2 with trim_blocks and lstrip_blocks, its tojson, raise_exception and strftime_now).
/// </summary>
public sealed class ChatTemplate
{
    private readonly List<Stmt> _program;

    /// <summary>Parses the template; a syntax error throws <see cref="ChatTemplateException"/> naming the line.</summary>
    public ChatTemplate(string source, string bosToken = "", string eosToken = "")
    {
        Source = source;
        BosToken = bosToken;
        EosToken = eosToken;
        _program = JinjaParser.Parse(source);
    }

    public string Source { get; }
    public string BosToken { get; }
    public string EosToken { get; }

    /// <summary>The clock strftime_now reads (local time by default; fixed in tests).</summary>
    public Func<DateTime> Clock { get; init; } = () => DateTime.Now;

    /// <summary>Renders the conversation; with <paramref name="addGenerationPrompt"/> it ends with the assistant turn's opening.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true,
        IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        var vars = new Dictionary<string, object?>();
        if (extraVariables is not null) foreach (var kv in extraVariables) vars[kv.Key] = kv.Value;
        vars["messages"] = messages.Select(m => (object?)new PyDict { ["role"] = m.Role, ["content"] = m.Content }).ToList();
        vars["add_generation_prompt"] = addGenerationPrompt;
        return RenderVariables(vars);
    }

    /// <summary>
    /// Renders with every template variable given: <c>messages</c> as dictionaries (so tool calls, content parts and
    /// any other fields reach the template), <c>tools</c>, <c>add_generation_prompt</c> and anything else. Values may be
    /// strings, numbers, booleans, null, dictionaries, lists or <see cref="System.Text.Json.JsonElement"/>s.
    /// bos_token, eos_token, tools (none), documents (none) and add_generation_prompt (false) are defaulted as HF does.
    /// </summary>
    public string RenderVariables(IReadOnlyDictionary<string, object?> variables)
    {
        var globals = new Scope(null);
        globals.Set("raise_exception", (JinjaCallable)((a, _) =>
            throw new ChatTemplateException(a.Count > 0 ? Py.Str(a[0]) : "raise_exception called")));
        globals.Set("strftime_now", (JinjaCallable)((a, k) => Strftime.Format(Clock(), Py.Str(JinjaMethods.Arg(a, k, 0, "format")))));
        globals.Set("range", (JinjaCallable)Range);
        globals.Set("namespace", (JinjaCallable)((a, k) =>
        {
            var ns = new JinjaNamespace();
            foreach (var x in a)
                if (x is PyDict d) foreach (var kv in d) ns.Attributes[Py.Str(kv.Key)] = kv.Value;
            foreach (var kv in k) ns.Attributes[Py.Str(kv.Key)] = kv.Value;
            return ns;
        }));
        globals.Set("dict", (JinjaCallable)((_, k) => new PyDict(k)));
        globals.Set("bos_token", BosToken);
        globals.Set("eos_token", EosToken);
        globals.Set("tools", null);
        globals.Set("documents", null);
        globals.Set("add_generation_prompt", false);
        foreach (var kv in variables) globals.Set(kv.Key, Py.FromDotNet(kv.Value));
        return new JinjaInterpreter().Render(_program, globals);
    }

    private static object? Range(List<object?> a, PyDict k)
    {
        long start = 0, stop, step = 1;
        if (a.Count == 1) stop = Py.ToLong(a[0]);
        else if (a.Count is 2 or 3)
        {
            start = Py.ToLong(a[0]);
            stop = Py.ToLong(a[1]);
            if (a.Count == 3) step = Py.ToLong(a[2]);
        }
        else throw new ChatTemplateException($"range expected 1 to 3 arguments, got {a.Count}");
        if (step == 0) throw new ChatTemplateException("range() arg 3 must not be zero");
        var r = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (r.Count >= 1 << 20) throw new ChatTemplateException("range is too large for a chat template");
            r.Add(i);
        }
        return r;
    }
}
