using System.Text;
using System.Text.Json;
using Loom.Serving.Engine;
using Loom.Text.Chat;

namespace Loom.Serving.Api;

/// <summary>
/// Turns chat messages into prompt text: the model's own chat template when it has one; otherwise a plain
/// fallback of "Role: content" lines ending with "Assistant:", which stops when the model starts a "User:" turn.
/// </summary>
public static class ChatPrompt
{
    /// <summary>Roles accepted in "messages".</summary>
    public static readonly IReadOnlySet<string> Roles = new HashSet<string> { "system", "developer", "user", "assistant", "tool" };

    /// <summary>Stops added for the fallback format, so a base model does not write the user's next turn.</summary>
    public static readonly IReadOnlyList<string> FallbackStops = ["\nUser:"];

    public static string Render(ServedModel model, IReadOnlyList<ChatMessage> messages, out bool templated)
    {
        templated = model.ChatTemplate != null;
        if (model.ChatTemplate is { } t) return t.Render(messages, addGenerationPrompt: true);
        return RenderFallback(messages);
    }

    /// <summary>The prompt's token ids, and the stops the format needs (the fallback's "\nUser:").</summary>
    public static int[] Encode(ServedModel model, IReadOnlyList<ChatMessage> messages, out IReadOnlyList<string> formatStops)
    {
        var text = Render(model, messages, out bool templated);
        formatStops = templated ? [] : FallbackStops;
        // Special tokens are matched only in template output, so fallback text from users cannot forge them.
        return model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: templated);
    }

    /// <summary>"System: …\nUser: …\nAssistant: …\nAssistant:" (developer counts as system, tool as "Tool").</summary>
    public static string RenderFallback(IReadOnlyList<ChatMessage> messages)
    {
        var sb = new StringBuilder();
        foreach (var m in messages)
        {
            string role = m.Role switch { "system" or "developer" => "System", "user" => "User", "assistant" => "Assistant", _ => "Tool" };
            sb.Append(role).Append(": ").Append(m.Content.Trim()).Append('\n');
        }
        sb.Append("Assistant:");
        return sb.ToString();
    }

    /// <summary>Reads "messages": an array of {role, content} with content a string or an array of text parts.</summary>
    internal static List<ChatMessage> Parse(JsonArgs a)
    {
        if (a.Get("messages") is not { } v) throw new ApiException(400, "'messages' is required", "messages", "missing_required_parameter");
        if (v.ValueKind != JsonValueKind.Array) throw ApiException.Invalid("messages", "'messages' must be an array");
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var m in v.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw ApiException.Invalid(at, $"'{at}' must be an object with 'role' and 'content'");
            if (!m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw ApiException.Invalid($"{at}.role", $"'{at}.role' must be a string");
            string r = role.GetString()!;
            if (!Roles.Contains(r)) throw ApiException.Invalid($"{at}.role", $"'{at}.role' must be one of {string.Join(", ", Roles)}, got '{r}'");
            list.Add(new ChatMessage(r, Content(m, at)));
        }
        if (list.Count == 0) throw ApiException.Invalid("messages", "'messages' must hold at least one message");
        return list;
    }

    private static string Content(JsonElement m, string at)
    {
        if (!m.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null) return "";
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array) throw ApiException.Invalid($"{at}.content", $"'{at}.content' must be a string or an array of text parts");
        var sb = new StringBuilder();
        foreach (var part in c.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                throw ApiException.Invalid($"{at}.content", $"'{at}.content' parts must be objects with a 'type'");
            if (type.GetString() != "text") throw ApiException.Invalid($"{at}.content", $"'{at}.content' part type '{type.GetString()}' is not supported (text only)");
            if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw ApiException.Invalid($"{at}.content", $"'{at}.content' text parts need a string 'text'");
            sb.Append(text.GetString());
        }
        return sb.ToString();
    }
}
