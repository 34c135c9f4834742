using System.ComponentModel;
using System.Globalization;
using Loom.Formats;
using Loom.Tensors;
using Loom.Tensors.Quant;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>
/// `loom quantize IN.gguf OUT.gguf --type T`: re-encodes every matrix weight of a GGUF file in one ggml type
/// (like llama-quantize --pure: token_embd and output get the same type), keeps 1-D tensors (norms, biases) as
/// they are, copies all metadata and sets general.file_type. Rows that are not whole blocks of T fall back to a
/// 32-element type (K-quants, as llama.cpp does) or to F16.
/// </summary>
public sealed class QuantizeCommand : Command<QuantizeCommand.Settings>
{
    /// <summary>Options of `loom quantize`.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<IN>")]
        [Description("Input GGUF file.")]
        public string Input { get; init; } = "";

        [CommandArgument(1, "<OUT>")]
        [Description("Output GGUF file (written atomically).")]
        public string Output { get; init; } = "";

        [CommandOption("--type <TYPE>")]
        [Description("Target type: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, F16, BF16 or F32.")]
        public string Type { get; init; } = "";

        public override ValidationResult Validate()
        {
            if (Type == "") return ValidationResult.Error("--type is required (" + TypeNames + ")");
            try { ParseType(Type); }
            catch (FormatException e) { return ValidationResult.Error(e.Message); }
            if (Path.GetFullPath(Input) == Path.GetFullPath(Output)) return ValidationResult.Error("IN and OUT are the same file");
            return ValidationResult.Success();
        }
    }

    private static readonly GgmlType[] Targets =
    [
        GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K,
        GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.F16, GgmlType.BF16, GgmlType.F32,
    ];

    private static string TypeNames => string.Join(", ", Targets);

    /// <summary>Parses a target type name (case-insensitive).</summary>
    public static GgmlType ParseType(string s)
    {
        foreach (var t in Targets)
            if (string.Equals(t.ToString(), s.Trim(), StringComparison.OrdinalIgnoreCase)) return t;
        throw new FormatException($"unknown type '{s}': expected one of {TypeNames}");
    }

    /// <summary>llama.cpp's llama_ftype for a file whose matrices are all <paramref name="t"/> (llama-quantize names Q3_K/Q4_K/Q5_K as the _M mixes).</summary>
    public static uint FileType(GgmlType t) => t switch
    {
        GgmlType.F32 => 0, GgmlType.F16 => 1, GgmlType.Q4_0 => 2, GgmlType.Q4_1 => 3, GgmlType.Q8_0 => 7,
        GgmlType.Q5_0 => 8, GgmlType.Q5_1 => 9, GgmlType.Q2_K => 10, GgmlType.Q3_K => 12, GgmlType.Q4_K => 15,
        GgmlType.Q5_K => 17, GgmlType.Q6_K => 18, GgmlType.BF16 => 32,
        _ => throw new ArgumentException($"no file type for {t}"),
    };

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var type = ParseType(settings.Type);
        var summary = Convert(settings.Input, settings.Output, type,
            line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"));
        AnsiConsole.MarkupLineInterpolated(
            $"wrote [bold]{settings.Output}[/]: {summary.Converted} tensors as {type}, {summary.Kept} kept, {summary.Fallback} fell back; {summary.InBytes:N0} -> {summary.OutBytes:N0} tensor bytes");
        return 0;
    }

    /// <summary>What a conversion did.</summary>
    public sealed record Summary(int Converted, int Kept, int Fallback, long InBytes, long OutBytes);

    /// <summary>Converts <paramref name="input"/> into <paramref name="output"/>; <paramref name="progress"/> gets one line per tensor.</summary>
    public static Summary Convert(string input, string output, GgmlType type, Action<string>? progress = null)
    {
        using var f = GgufFile.Open(input);
        var w = new GgufWriter(f.Alignment);
        foreach (var (key, value) in f.Metadata)
        {
            if (key is "general.alignment" or "general.file_type" or "general.quantization_version") continue;
            w.Add(key, value);
        }
        w.Add("general.quantization_version", GgufValue.UInt32(2));
        w.Add("general.file_type", GgufValue.UInt32(FileType(type)));
        int converted = 0, kept = 0, fallback = 0, i = 0;
        long inBytes = 0, outBytes = 0;
        foreach (var t in f.Tensors)
        {
            i++;
            inBytes += t.ByteSize;
            var target = TargetFor(t, type);
            if (target is null || (uint)target.Value == t.Type.Id)
            {
                w.AddTensor(t.Name, t.Dims, t.Type.Id, f.Bytes(t).ToArray());
                outBytes += t.ByteSize;
                kept++;
                progress?.Invoke($"[{i}/{f.Tensors.Count}] {t.Name} {t.Type.Name} kept");
                continue;
            }
            var to = target.Value;
            if (to != type) fallback++; else converted++;
            var data = Requantize(f, t, to);
            w.AddTensor(t.Name, t.Dims, (uint)to, data);
            outBytes += data.Length;
            progress?.Invoke($"[{i}/{f.Tensors.Count}] {t.Name} {t.Type.Name} -> {to}{(to != type ? " (row length " + t.Dims[0] + " is not a multiple of " + GgmlTypeLayout.BlockElements(type) + ")" : "")}");
        }
        w.Save(output);
        return new Summary(converted, kept, fallback, inBytes, outBytes);
    }

    /// <summary>The type tensor <paramref name="t"/> becomes, or null to keep it as stored.</summary>
    private static GgmlType? TargetFor(GgufTensorInfo t, GgmlType type)
    {
        // Matrices only: 1-D tensors (norms, biases) stay; so do the MoE router and anything not named *.weight.
        if (t.Dims.Length < 2 || !t.Name.EndsWith(".weight", StringComparison.Ordinal) || t.Name.Contains("_norm", StringComparison.Ordinal)
            || t.Name.Contains("ffn_gate_inp", StringComparison.Ordinal)) return null;
        long row = t.Dims[0];
        if (row % GgmlTypeLayout.BlockElements(type) == 0) return type;
        // llama.cpp's fallbacks for rows that are not whole 256-element super-blocks.
        GgmlType alt = type switch
        {
            GgmlType.Q2_K or GgmlType.Q3_K => GgmlType.Q4_0,
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            _ => GgmlType.Q8_0,
        };
        return row % 32 == 0 ? alt : GgmlType.F16;
    }

    /// <summary>Decodes each row of <paramref name="t"/> to f32 and encodes it as <paramref name="to"/>, rows split across threads.</summary>
    private static byte[] Requantize(GgufFile f, GgufTensorInfo t, GgmlType to)
    {
        GgmlType from = (GgmlType)t.Type.Id;
        try { GgmlTypeLayout.BlockElements(from); }
        catch (ArgumentException) { throw new ModelFileException(f.Path, $"tensor '{t.Name}' is {t.Type.Name}, which Loom cannot decode to requantize"); }
        int cols = checked((int)t.Dims[0]);
        long rows = t.ElementCount / cols;
        long inRow = GgmlTypeLayout.RowBytes(from, cols), outRow = GgmlTypeLayout.RowBytes(to, cols);
        long total = outRow * rows;
        if (total > Array.MaxLength || t.ByteSize > int.MaxValue)
            throw new ModelFileException(f.Path, $"tensor '{t.Name}' is too large to convert ({t.ByteSize:N0} bytes)");
        var dst = new byte[total];
        unsafe
        {
            var src = f.Bytes(t);
            fixed (byte* sp = src)
            {
                byte* s = sp;
                ComputePool.For((int)rows, (r0, r1) =>
                {
                    var row = new float[cols];
                    for (long r = r0; r < r1; r++)
                    {
                        QuantRows.Dequantize(from, new ReadOnlySpan<byte>(s + r * inRow, (int)inRow), row);
                        QuantRows.Quantize(to, row, dst.AsSpan((int)(r * outRow), (int)outRow));
                    }
                }, (int)Math.Min(rows, 64));
            }
        }
        return dst;
    }
}
