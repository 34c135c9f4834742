using System.ComponentModel;
using System.Text;
using Loom.Text;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom tokenizer encode`: prints the token ids (or pieces) of a text with a tokenizer.json.</summary>
public sealed class TokenizerEncodeCommand : Command<TokenizerEncodeCommand.Settings>
{
    /// <summary>Options of `loom tokenizer encode`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("-t|--tokenizer <PATH>")]
        [Description("tokenizer.json (or .json.gz).")]
        public string? Tokenizer { get; init; }

        [CommandArgument(0, "[TEXT]")]
        [Description("Text to encode.")]
        public string? Text { get; init; }

        [CommandOption("-f|--file <PATH>")]
        [Description("Encode the bytes of this file instead.")]
        public string? File { get; init; }

        [CommandOption("--bos")]
        [Description("Prepend the tokenizer's BOS id.")]
        public bool Bos { get; init; }

        [CommandOption("--eos")]
        [Description("Append the tokenizer's EOS id.")]
        public bool Eos { get; init; }

        [CommandOption("--no-special")]
        [Description("Treat special-token text as ordinary text.")]
        public bool NoSpecial { get; init; }

        [CommandOption("--pieces")]
        [Description("Show each token's text next to its id.")]
        public bool Pieces { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrEmpty(Tokenizer)) return ValidationResult.Error("--tokenizer PATH is required");
            if ((Text == null) == (File == null)) return ValidationResult.Error("give either TEXT or --file PATH");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var tok = TokenizerJson.Load(settings.Tokenizer!);
        byte[] bytes;
        if (settings.File != null)
        {
            if (!System.IO.File.Exists(settings.File)) throw new FileNotFoundException($"input file '{settings.File}' does not exist");
            bytes = System.IO.File.ReadAllBytes(settings.File);
        }
        else bytes = Encoding.UTF8.GetBytes(settings.Text!);
        var ids = tok.EncodeBytes(bytes, settings.Bos, settings.Eos, allowSpecial: !settings.NoSpecial);
        if (settings.Pieces)
            foreach (int id in ids) Console.WriteLine($"{id}\t{tok.TokenString(id)}");
        else Console.WriteLine(string.Join(' ', ids));
        Console.Error.WriteLine($"{ids.Length} tokens, {bytes.Length} bytes");
        return 0;
    }
}
