using System.ComponentModel;
using System.Text;
using Loom.Models.Generation;
using Loom.Models.Inference;
using Loom.Text.Chat;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>
/// `loom chat`: a multi-turn conversation on standard input, one user message per line, rendered with the model's chat
/// template. /reset starts over, /system TEXT sets the system message, /exit (or end of input) quits. The KV cache keeps
/// the conversation so far; only the new tokens of each turn are computed.
/// </summary>
public sealed class ChatCommand : Command<ChatCommand.Settings>
{
    public sealed class Settings : SamplingSettings
    {
        [CommandOption("--system <TEXT>")] [Description("Initial system message.")]
        public string? System { get; init; }

        [CommandOption("--ctx <N>")] [Description("Conversation context in tokens (default: the model's, at most 4096).")]
        public int? Ctx { get; init; }

        public override ValidationResult Validate()
        {
            if (Ctx is <= 0) return ValidationResult.Error("--ctx must be positive");
            return base.Validate();
        }
    }

    /// <summary>A plain "role: text" format for models without a chat template (such as Loom's own).</summary>
    private static string PlainTemplate(IReadOnlyList<ChatMessage> messages)
    {
        var sb = new StringBuilder();
        foreach (var m in messages) sb.Append(m.Role).Append(": ").Append(m.Content).Append('\n');
        return sb.Append("assistant:").ToString();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        using var model = s.Load();
        int ctx = Math.Min(s.Ctx ?? Math.Min(model.ContextLength, 4096), model.ContextLength);
        using var lm = model.CreateBatch(1, ctx);
        var tok = model.Tokenizer;
        var gen = new LmGenerator(lm, tok);
        var messages = new List<ChatMessage>();
        if (s.System != null) messages.Add(new ChatMessage("system", s.System));
        var cached = new List<int>();   // tokens in the slot, to reuse the shared prefix of the next turn
        var template = model.ChatTemplate;
        var stops = template == null ? s.Stop.Append("\nuser:").ToArray() : s.Stop;
        var stdout = Console.Out;
        int turn = 0;
        string? line;
        while ((line = Console.In.ReadLine()) != null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            line = line.TrimEnd('\r');
            if (line.Length == 0) continue;
            if (line == "/exit") break;
            if (line == "/reset")
            {
                messages.RemoveAll(m => m.Role != "system");
                stdout.WriteLine("(conversation reset)");
                continue;
            }
            if (line.StartsWith("/system", StringComparison.Ordinal))
            {
                messages.RemoveAll(m => m.Role == "system");
                string text = line[7..].Trim();
                if (text.Length > 0) messages.Insert(0, new ChatMessage("system", text));
                stdout.WriteLine(text.Length > 0 ? "(system message set)" : "(system message cleared)");
                continue;
            }
            messages.Add(new ChatMessage("user", line));
            string prompt = template != null ? template.Render(messages, addGenerationPrompt: true) : PlainTemplate(messages);
            bool addSpecial = !(template != null && template.BosToken.Length > 0 && prompt.StartsWith(template.BosToken, StringComparison.Ordinal));
            var ids = tok.Encode(prompt, addSpecial: addSpecial, parseSpecial: true);
            int common = 0;
            while (common < cached.Count && common < ids.Length - 1 && cached[common] == ids[common]) common++;
            lm.TruncateSlot(0, common);
            cached.RemoveRange(common, cached.Count - common);
            var delta = ids[common..];
            int room = ctx - common - delta.Length;
            if (room <= 0)
            {
                stdout.WriteLine($"(the conversation has {ids.Length} tokens and fills the context of {ctx}; /reset to start over)");
                messages.RemoveAt(messages.Count - 1);
                continue;
            }
            var seed = s.Sampler() with { Seed = s.Seed + (ulong)turn++ };
            var r = gen.Generate(delta, seed, Math.Min(s.MaxTokens, room), stops, piece => { stdout.Write(piece); stdout.Flush(); }, cancellationToken);
            stdout.WriteLine();
            cached.AddRange(delta);
            cached.AddRange(r.Tokens.Take(lm.SlotLength(0) - cached.Count));
            messages.Add(new ChatMessage("assistant", r.Text.Trim()));
            s.PrintStats(r);
        }
        return 0;
    }
}
