using Loom.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli;

/// <summary>Entry point of the `loom` command: one verb per job, errors as one clear line.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args);

    /// <summary>Runs the command line, optionally on a given console (tests capture the output this way).</summary>
    public static int Run(string[] args, IAnsiConsole? console = null)
    {
        if (console != null) AnsiConsole.Console = console;
        else if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 1000;   // logs: don't wrap lines at 80 columns
        var app = new CommandApp();
        app.Configure(c =>
        {
            if (console != null) c.ConfigureConsole(console);
            Configure(c);
        });
        return app.Run(args);
    }

    public static void Configure(IConfigurator config)
    {
        config.SetApplicationName("loom");
        config.Settings.StrictParsing = true;
        config.AddCommand<GenerateCommand>("generate").WithDescription("Continue a prompt with a trained model (default: the bundled one), streaming the text.");
        config.AddCommand<EvalCommand>("eval").WithDescription("Loss, perplexity and bits per byte of a model on a text file.");
        config.AddBranch("train", t =>
        {
            t.SetDescription("Train models.");
            t.AddCommand<TrainLmCommand>("lm").WithDescription("Pre-train a Llama-style language model on text, with checkpoints and --resume.");
        });
        config.AddBranch("data", d =>
        {
            d.SetDescription("Prepare training data.");
            d.AddCommand<DataTokenizeCommand>("tokenize").WithDescription("Encode text into memory-mapped token shards (train.tok, val.tok).");
        });
        config.AddCommand<EnvCommand>("env").WithDescription("Show the engine's view of this machine: SIMD, threads, memory.");
        config.AddCommand<ServeCommand>("serve").WithDescription("Serve models over an OpenAI-compatible HTTP API with continuous batching, and a web chat page at /.");
        config.AddCommand<RunCommand>("run").WithDescription("Continue a prompt with a GGUF model or a model folder, streaming the text.");
        config.AddCommand<ChatCommand>("chat").WithDescription("Multi-turn chat on standard input with the model's chat template (/reset, /system TEXT, /exit).");
        config.AddCommand<LogitsCommand>("logits").WithDescription("Token ids and logits of a prompt as JSON (last position or --all-positions).");
        config.AddCommand<PerplexityCommand>("perplexity").WithDescription("Perplexity of a model on a text file, computed as llama.cpp's perplexity tool does.");
        config.AddCommand<ConvertCommand>("convert").WithDescription("Convert a model folder (safetensors) to GGUF, or a llama GGUF back to a folder.");
        config.AddCommand<MakeTestModelCommand>("make-test-model").WithDescription("Write a GGUF model with seeded random weights (for oracles and benchmarks).").IsHidden();
        config.AddCommand<QuantizeCommand>("quantize").WithDescription("Re-encode a GGUF model's matrices in one ggml type (Q8_0, Q4_0, Q4_K, Q6_K, ...).");
        config.AddCommand<InfoCommand>("info").WithDescription("Describe a GGUF model file: architecture, parameters, quantization mix, hyper-parameters, tokenizer.");
        config.AddBranch("tokenizer", t =>
        {
            t.SetDescription("Train and inspect tokenizers.");
            t.AddCommand<TokenizerTrainCommand>("train").WithDescription("Train a byte-level BPE tokenizer on text files; writes tokenizer.json.");
            t.AddCommand<TokenizerEncodeCommand>("encode").WithDescription("Encode text or a file with a tokenizer.json and print the ids.");
            t.AddCommand<TokenizerBenchCommand>("bench").WithDescription("Measure encode MB/s (and optionally training time) on a text file.");
            t.AddCommand<TokenizerGgufCommand>("gguf").WithDescription("Convert a Hugging Face tokenizer to a vocab-only GGUF (as convert_hf_to_gguf.py does).");
        });
        config.AddBranch("bench", b =>
        {
            b.SetDescription("Benchmarks that compare Loom with a peer in the same run.");
            b.AddCommand<BenchGemmCommand>("gemm").WithDescription("SGEMM GFLOP/s of Loom and OpenBLAS on square and model-like shapes, 1 and 2 threads.");
            b.AddCommand<BenchServeCommand>("serve").WithDescription("Load-test an OpenAI-compatible server (default: loom serve on the bundled model): requests/s, tokens/s, TTFT and latency percentiles.");
            b.AddCommand<BenchQuantCommand>("quant").WithDescription("Quantized matmul GB/s and GFLOP/s per ggml type: decode (T=1) and prefill shapes, 1 and 2 threads.");
            b.AddCommand<BenchTrainCommand>("train").WithDescription("Training tokens/s of Loom and PyTorch on a character-level Llama-style model (Moby-Dick).");
        });
        config.SetExceptionHandler((ex, _) =>
        {
            var e = ex is AggregateException { InnerException: { } inner } ? inner : ex;
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return e is CommandParseException or CommandRuntimeException ? 2 : 1;
        });
    }
}
