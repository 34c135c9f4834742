namespace Loom.Text.Chat;

/// <summary>A chat template that cannot be parsed or rendered: a syntax error (with its line), a failed
/// <c>raise_exception</c>, an unknown filter or test, or an operation on values of the wrong type.</summary>
public sealed class ChatTemplateException : Exception
{
    /// <summary>The 1-based template line the problem is on, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>The problem without the location prefix (for raise_exception: the template's own message).</summary>
    public string Problem { get; }

    public ChatTemplateException(string problem, int line = 0)
        : base(line > 0 ? $"chat template line {line}: {problem}" : $"chat template: {problem}")
    {
        Problem = problem;
        Line = line;
    }
}
