using System.ComponentModel;
using System.Globalization;
using Loom.Formats;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom info FILE`: what a GGUF model file holds — architecture, size, quantization mix, hyper-parameters, tokenizer.</summary>
public sealed class InfoCommand : Command<InfoCommand.Settings>
{
    /// <summary>Options of `loom info`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("A GGUF model file.")]
        public string File { get; init; } = "";
    }

    private static readonly string[] HyperParameters =
    [
        "context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count",
        "attention.head_count_kv", "attention.key_length", "attention.value_length", "attention.layer_norm_rms_epsilon",
        "rope.freq_base", "rope.dimension_count", "vocab_size", "expert_count", "expert_used_count",
    ];

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var f = GgufFile.Open(settings.File);
        var t = new Table().AddColumns("what", "value");
        string arch = f.Get("general.architecture")?.Value as string ?? "";
        t.AddRow("file", Markup.Escape($"{settings.File} (GGUF v{f.Version}, {new FileInfo(settings.File).Length:N0} bytes)"));
        t.AddRow("architecture", Markup.Escape(arch == "" ? "(not set)" : arch));
        if (f.Get("general.name")?.Value is string name) t.AddRow("name", Markup.Escape(name));
        long parameters = f.Tensors.Sum(x => x.ElementCount);
        t.AddRow("tensors", f.Tensors.Count.ToString(CultureInfo.InvariantCulture));
        t.AddRow("parameters", $"{parameters:N0} ({Human(parameters)})");
        foreach (var g in f.Tensors.GroupBy(x => x.Type.Name).OrderByDescending(g => g.Sum(x => x.ByteSize)))
            t.AddRow($"  {g.Key}", $"{g.Count()} tensors, {g.Sum(x => x.ByteSize):N0} bytes");
        if (arch != "")
            foreach (var key in HyperParameters)
                if (f.Get($"{arch}.{key}") is { } v)
                    t.AddRow($"{arch}.{key}", Markup.Escape(v.ToString()));
        if (f.Get("tokenizer.ggml.model")?.Value is string tok) t.AddRow("tokenizer", Markup.Escape(tok));
        if (f.Get("tokenizer.ggml.tokens") is { IsArray: true } tokens) t.AddRow("vocab size", tokens.ArrayLength.ToString(CultureInfo.InvariantCulture));
        string chat = f.Get("tokenizer.chat_template")?.Value is string tpl
            ? "yes: " + (tpl.Split('\n').FirstOrDefault(l => l.Trim() != "")?.Trim() ?? "")
            : "no";
        if (chat.Length > 120) chat = chat[..117] + "...";
        t.AddRow("chat template", Markup.Escape(chat));
        AnsiConsole.Write(t);
        return 0;
    }

    private static string Human(long n) => n switch
    {
        >= 1_000_000_000 => $"{n / 1e9:0.##}B",
        >= 1_000_000 => $"{n / 1e6:0.##}M",
        >= 1_000 => $"{n / 1e3:0.##}K",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}
