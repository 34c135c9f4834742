namespace Loom.Text.Chat;

/// <summary>One chat turn: a role ("system", "user", "assistant", "tool") and its text.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A model's chat template (the Jinja source from GGUF <c>tokenizer.chat_template</c> or tokenizer_config.json),
/// rendered to the prompt text the model was trained on.
/// </summary>
public sealed class ChatTemplate(string source, string bosToken = "", string eosToken = "")
{
    public string Source { get; } = source;
    public string BosToken { get; } = bosToken;
    public string EosToken { get; } = eosToken;

    /// <summary>Renders the conversation; with <paramref name="addGenerationPrompt"/> it ends with the assistant turn's opening.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true,
        IReadOnlyDictionary<string, object?>? extraVariables = null) =>
        throw new NotImplementedException("the Jinja interpreter is being written (issue 4)");
}
