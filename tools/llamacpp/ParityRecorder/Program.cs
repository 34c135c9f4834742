using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Loom.Models.Tests;

// ParityRecorder: the recording half of tools/llamacpp/make_parity_fixtures.sh.
//   record --gguf F --oracle-json J --logits L --arch A --tokenizer T --type Q --seed N --shape S --prompt P
//          --out FIXTURE.json --row ROW.json [--ids 128]   (a failing case goes to failing/FIXTURE.json beside it)
//     Writes the compact fixture (tokens, greedy, argmax per position, logits at a seeded id subset) and a row for
//     the report: Loom on the same file against llama.cpp over the full vocabulary (NMSE, greedy, tokens).
//   report --rows DIR --out REPORT.md
//     The arch x type table of every row.
return args.Length > 0 && args[0] == "record" ? Record(Options(args))
    : args.Length > 0 && args[0] == "report" ? Report(Options(args))
    : Usage();

static int Usage()
{
    Console.Error.WriteLine("usage: ParityRecorder record --gguf F --oracle-json J --logits L --arch A --tokenizer T --type Q --seed N --shape S --prompt P --out F --row R | report --rows DIR --out F");
    return 2;
}

static Dictionary<string, string> Options(string[] args)
{
    var o = new Dictionary<string, string>();
    for (int i = 1; i + 1 < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"expected an option, got '{args[i]}'");
        o[args[i][2..]] = args[i + 1];
    }
    return o;
}

static int Record(Dictionary<string, string> o)
{
    string gguf = o["gguf"];
    var oracle = JsonNode.Parse(File.ReadAllText(o["oracle-json"]))!;
    int[] tokens = oracle["tokens"]!.AsArray().Select(n => (int)n!).ToArray();
    int[] greedy = oracle["greedy"]!.AsArray().Select(n => (int)n!).ToArray();
    int vocab = (int)oracle["logits_shape"]![1]!;
    var bytes = File.ReadAllBytes(o["logits"]);
    if (bytes.Length != tokens.Length * vocab * 4) throw new InvalidDataException($"{o["logits"]}: {bytes.Length} bytes, expected {tokens.Length} x {vocab} floats");
    var reference = new float[tokens.Length * vocab];
    Buffer.BlockCopy(bytes, 0, reference, 0, bytes.Length);
    var argmax = LlamaCppParity.RowArgmax(reference, vocab);
    var ids = LlamaCppFixture.ChooseIds(vocab, o.TryGetValue("ids", out var n) ? int.Parse(n, CultureInfo.InvariantCulture) : 128, argmax);
    var subset = LlamaCppParity.Subset(reference, vocab, ids);
    var subsetBytes = new byte[subset.Length * 4];
    Buffer.BlockCopy(subset, 0, subsetBytes, 0, subsetBytes.Length);
    string prompt = File.ReadAllText(o["prompt"]);
    string sha;
    using (var fs = File.OpenRead(gguf)) sha = Convert.ToHexStringLower(SHA256.HashData(fs));

    // Loom on the same file, full vocabulary.
    var row = new JsonObject { ["arch"] = o["arch"], ["tokenizer"] = o["tokenizer"], ["type"] = o["type"], ["tokens"] = tokens.Length, ["vocab"] = vocab };
    double? fullNmse = null;
    var sw = Stopwatch.StartNew();
    try
    {
        using var loom = new LlamaCppParity.LoomRun(gguf, tokens.Length + greedy.Length + 8);
        var loomTokens = loom.Tokenizer.Encode(prompt, addSpecial: true, parseSpecial: true);
        row["tokens_match"] = loomTokens.SequenceEqual(tokens);
        if (!loomTokens.SequenceEqual(tokens)) row["loom_tokens"] = new JsonArray(loomTokens.Select(t => (JsonNode)t).ToArray());
        var logits = loom.AllPositionLogits(tokens);
        fullNmse = LlamaCppFixture.Nmse(reference, logits);
        row["nmse"] = fullNmse;
        row["subset_nmse"] = LlamaCppFixture.Nmse(subset, LlamaCppParity.Subset(logits, vocab, ids));
        row["argmax_match"] = LlamaCppParity.RowArgmax(logits, vocab).Zip(argmax).Count(p => p.First == p.Second);
        var loomGreedy = LlamaCppParity.Greedy(loom.Lm, tokens, greedy.Length);
        row["greedy_first_difference"] = LlamaCppParity.FirstDifference(greedy, loomGreedy);
        row["greedy_match"] = loomGreedy.SequenceEqual(greedy);
    }
    catch (Exception e)
    {
        row["error"] = $"{e.GetType().Name}: {e.Message}";
    }
    row["loom_seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 2);
    row["bound"] = o["type"] is "F32" or "F16" or "BF16" ? 1e-6 : 1e-4;

    var fixture = new LlamaCppFixture
    {
        Arch = o["arch"], Tokenizer = o["tokenizer"], Type = o["type"], Seed = int.Parse(o["seed"], CultureInfo.InvariantCulture),
        Shape = o["shape"], GgufSha256 = sha, Prompt = prompt, VocabSize = vocab, Tokens = tokens, Greedy = greedy, Argmax = argmax,
        Ids = ids, LogitsF32 = Convert.ToBase64String(subsetBytes), RecordedFullNmse = fullNmse,
        LlamaCpp = "node-llama-cpp 3.22.1 (llama.cpp C API, CPU, F32 KV cache, no flash attention)",
    };
    // A case that misses its bound is kept apart (failing/), where the tests do not look, and named in the report.
    string passPath = o["out"], failPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(passPath))!, "failing", Path.GetFileName(passPath));
    string target = Passes(row) ? passPath : failPath;
    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
    WriteAtomically(target, fixture.ToJson() + "\n");
    string stale = target == passPath ? failPath : passPath;
    if (File.Exists(stale)) File.Delete(stale);
    WriteAtomically(o["row"], row.ToJsonString() + "\n");
    Console.WriteLine(row.ToJsonString());
    return 0;
}

static int Report(Dictionary<string, string> o)
{
    var rows = Directory.GetFiles(o["rows"], "*.json").Select(f => JsonNode.Parse(File.ReadAllText(f))!.AsObject()).ToList();
    string[] typeOrder = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"];
    var models = rows.Select(r => $"{r["arch"]} / {r["tokenizer"]}").Distinct().ToList();
    var sb = new StringBuilder();
    sb.AppendLine("# Loom vs llama.cpp: logits parity on random-weight GGUF files");
    sb.AppendLine();
    sb.AppendLine("Written by `tools/llamacpp/make_parity_fixtures.sh` (do not edit). Each cell: Loom's NMSE against llama.cpp over");
    sb.AppendLine("the full vocabulary at every prompt position (sum of squared differences / sum of squares), then whether the");
    sb.AppendLine("32-token greedy continuations are identical (`=`) or first differ at step k (`≠k`). Bounds (issue 4): NMSE <= 1e-6");
    sb.AppendLine("for F32/F16/BF16 and <= 1e-4 for quantized types; **bold** marks a cell that misses its bound or its greedy run.");
    sb.AppendLine("llama.cpp: node-llama-cpp 3.22.1 C API, CPU, F32 KV cache, flash attention off, logits of every position from one");
    sb.AppendLine("batch; Loom: F32 KV cache, the same (InferenceModel.Logits, all positions). Files: TestModelWriter (`loom make-test-model`), shape tiny.");
    sb.AppendLine();
    sb.AppendLine("| type | " + string.Join(" | ", models) + " |");
    sb.AppendLine("|---|" + string.Concat(models.Select(_ => "---|")));
    foreach (var type in typeOrder.Where(t => rows.Any(r => (string?)r["type"] == t)))
    {
        sb.Append("| ").Append(type).Append(" |");
        foreach (var m in models)
        {
            var r = rows.FirstOrDefault(x => $"{x["arch"]} / {x["tokenizer"]}" == m && (string?)x["type"] == type);
            sb.Append(' ').Append(r is null ? "-" : Cell(r)).Append(" |");
        }
        sb.AppendLine();
    }
    var failing = rows.Where(r => !Passes(r)).ToList();
    sb.AppendLine();
    sb.AppendLine(failing.Count == 0 ? "Every case passes." : $"{failing.Count} of {rows.Count} cases miss a bound (their fixtures are kept under `failing/`, out of the test):");
    foreach (var r in failing.OrderBy(r => (string?)r["arch"]).ThenBy(r => (string?)r["type"]))
    {
        string why = r["error"] is { } e ? (string)e! : $"NMSE {Fmt(r["nmse"])}, greedy first difference at {r["greedy_first_difference"]}, tokens match {r["tokens_match"]}";
        sb.AppendLine($"- {r["arch"]} / {r["tokenizer"]} {r["type"]}: {why}");
    }
    WriteAtomically(o["out"], sb.ToString());
    return failing.Count == 0 ? 0 : 1;
}

static bool Passes(JsonObject r) =>
    r["error"] is null && (bool)r["tokens_match"]! && (bool)r["greedy_match"]! && (double)r["nmse"]! <= (double)r["bound"]!;

static string Cell(JsonObject r)
{
    if (r["error"] is not null) return "**error**";
    string text = $"{Fmt(r["nmse"])} {((bool)r["greedy_match"]! ? "=" : $"≠{r["greedy_first_difference"]}")}{((bool)r["tokens_match"]! ? "" : " tok≠")}";
    return Passes(r) ? text : $"**{text}**";
}

static string Fmt(JsonNode? v) => v is null ? "-" : ((double)v).ToString("0.0e+0", CultureInfo.InvariantCulture);

static void WriteAtomically(string path, string text)
{
    string tmp = path + ".tmp";
    File.WriteAllText(tmp, text);
    File.Move(tmp, path, overwrite: true);
}
