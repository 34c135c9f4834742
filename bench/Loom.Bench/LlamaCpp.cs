using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Loom.Bench;

/// <summary>
/// llama.cpp (the npm node-llama-cpp build that tools/llamacpp/install.sh installs) loaded at run time as a
/// benchmark peer through its C API; a missing install just means there is no peer.
/// </summary>
/// <remarks>
/// The struct layouts below are copied from tools/llamacpp/src/include/llama.h (llama.cpp of node-llama-cpp 3.22.1)
/// and checked field by field against tools/llamacpp/build/layout_probe (tools/llamacpp/layout_probe.c), which
/// prints sizeof/offsetof as the C compiler lays them out. Only the fields Loom sets are named.
/// </remarks>
public sealed unsafe class LlamaCpp
{
    /// <summary>Where install.sh puts the libraries, relative to the repository root.</summary>
    public const string BinsUnderRepo = "tools/llamacpp/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64";

    private const string LlamaLib = "libllama.v0.5.0.so", GgmlLib = "libggml.v0.5.0.so";
    private const int LoadModeMmapMlock = 3;   // LLAMA_LOAD_MODE_MMAP_MLOCK

    /// <summary>llama_model_params (80 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 80)]
    private struct ModelParams
    {
        [FieldOffset(16)] public int NGpuLayers;
        [FieldOffset(24)] public int LoadMode;   // enum llama_load_mode
        [FieldOffset(72)] public byte VocabOnly;
    }

    /// <summary>llama_context_params (160 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 160)]
    private struct ContextParams
    {
        [FieldOffset(0)] public uint NCtx;
        [FieldOffset(4)] public uint NBatch;
        [FieldOffset(8)] public uint NUbatch;
        [FieldOffset(12)] public uint NSeqMax;
        [FieldOffset(28)] public int NThreads;
        [FieldOffset(32)] public int NThreadsBatch;
        [FieldOffset(130)] public byte NoPerf;
    }

    /// <summary>llama_batch (56 bytes): arrays owned by llama_batch_init.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 56)]
    private struct Batch
    {
        [FieldOffset(0)] public int NTokens;
        [FieldOffset(8)] public int* Token;
        [FieldOffset(16)] public float* Embd;
        [FieldOffset(24)] public int* Pos;
        [FieldOffset(32)] public int* NSeqId;
        [FieldOffset(40)] public int** SeqId;
        [FieldOffset(48)] public sbyte* Logits;
    }

    private static readonly Lazy<LlamaCpp?> Shared = new(() => Load(FindBins()));

    private readonly delegate* unmanaged<ModelParams> _modelDefaultParams;
    private readonly delegate* unmanaged<ContextParams> _contextDefaultParams;
    private readonly delegate* unmanaged<byte*, ModelParams, nint> _modelLoad;
    private readonly delegate* unmanaged<nint, void> _modelFree;
    private readonly delegate* unmanaged<nint, ContextParams, nint> _initFromModel;
    private readonly delegate* unmanaged<nint, void> _free;
    private readonly delegate* unmanaged<nint, nint> _modelGetVocab;
    private readonly delegate* unmanaged<nint, int> _vocabNTokens;
    private readonly delegate* unmanaged<int, int, int, Batch> _batchInit;
    private readonly delegate* unmanaged<Batch, void> _batchFree;
    private readonly delegate* unmanaged<nint, Batch, int> _decode;
    private readonly delegate* unmanaged<nint, void> _synchronize;
    private readonly delegate* unmanaged<nint, int, float*> _getLogitsIth;
    private readonly delegate* unmanaged<nint, nint> _getMemory;
    private readonly delegate* unmanaged<nint, byte, void> _memoryClear;

    private LlamaCpp(string bins, nint llama, nint ggml)
    {
        Bins = bins;
        _modelDefaultParams = (delegate* unmanaged<ModelParams>)NativeLibrary.GetExport(llama, "llama_model_default_params");
        _contextDefaultParams = (delegate* unmanaged<ContextParams>)NativeLibrary.GetExport(llama, "llama_context_default_params");
        _modelLoad = (delegate* unmanaged<byte*, ModelParams, nint>)NativeLibrary.GetExport(llama, "llama_model_load_from_file");
        _modelFree = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(llama, "llama_model_free");
        _initFromModel = (delegate* unmanaged<nint, ContextParams, nint>)NativeLibrary.GetExport(llama, "llama_init_from_model");
        _free = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(llama, "llama_free");
        _modelGetVocab = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(llama, "llama_model_get_vocab");
        _vocabNTokens = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(llama, "llama_vocab_n_tokens");
        _batchInit = (delegate* unmanaged<int, int, int, Batch>)NativeLibrary.GetExport(llama, "llama_batch_init");
        _batchFree = (delegate* unmanaged<Batch, void>)NativeLibrary.GetExport(llama, "llama_batch_free");
        _decode = (delegate* unmanaged<nint, Batch, int>)NativeLibrary.GetExport(llama, "llama_decode");
        _synchronize = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(llama, "llama_synchronize");
        _getLogitsIth = (delegate* unmanaged<nint, int, float*>)NativeLibrary.GetExport(llama, "llama_get_logits_ith");
        _getMemory = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(llama, "llama_get_memory");
        _memoryClear = (delegate* unmanaged<nint, byte, void>)NativeLibrary.GetExport(llama, "llama_memory_clear");

        var logSet = (delegate* unmanaged<nint, nint, void>)NativeLibrary.GetExport(llama, "llama_log_set");
        logSet((nint)(delegate* unmanaged<int, byte*, nint, void>)&QuietLog, 0);
        var loadAll = (delegate* unmanaged<byte*, void>)NativeLibrary.GetExport(ggml, "ggml_backend_load_all_from_path");
        nint path = Marshal.StringToCoTaskMemUTF8(bins);
        try { loadAll((byte*)path); }
        finally { Marshal.FreeCoTaskMem(path); }
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(llama, "llama_backend_init"))();
    }

    /// <summary>The process-wide instance, or null when llama.cpp is not installed (or cannot be loaded).</summary>
    public static LlamaCpp? Instance => Shared.Value;

    /// <summary>The folder the libraries were loaded from.</summary>
    public string Bins { get; }

    [UnmanagedCallersOnly]
    private static void QuietLog(int level, byte* text, nint user)
    {
        // GGML_LOG_LEVEL_ERROR = 4: keep errors (a model llama.cpp refuses), drop the load chatter.
        if (level == 4 && text != null) Console.Error.Write(Marshal.PtrToStringUTF8((nint)text));
    }

    /// <summary>
    /// The bins folder: LOOM_LLAMACPP_DIR (the bins folder itself or a tools/llamacpp folder), else
    /// tools/llamacpp under the current directory or one of its parents, or under the executable's folder's parents.
    /// </summary>
    public static string? FindBins()
    {
        if (Environment.GetEnvironmentVariable("LOOM_LLAMACPP_DIR") is { Length: > 0 } dir)
        {
            foreach (var candidate in new[] { dir, Path.Combine(dir, "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64") })
                if (File.Exists(Path.Combine(candidate, LlamaLib))) return Path.GetFullPath(candidate);
            return null;
        }
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
            {
                var bins = Path.Combine(d.FullName, BinsUnderRepo);
                if (File.Exists(Path.Combine(bins, LlamaLib))) return bins;
            }
        }
        return null;
    }

    private static LlamaCpp? Load(string? bins)
    {
        if (bins is null || !OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        if (!NativeLibrary.TryLoad(Path.Combine(bins, GgmlLib), out nint ggml)) return null;
        if (!NativeLibrary.TryLoad(Path.Combine(bins, LlamaLib), out nint llama)) return null;
        return new LlamaCpp(bins, llama, ggml);
    }

    /// <summary>
    /// Prompt processing of <paramref name="promptTokens"/> tokens in one batch, and generation of
    /// <paramref name="genTokens"/> tokens after a 4-token prompt (greedy, fed back one at a time), each the median
    /// of <paramref name="reps"/> runs after one warm-up; llama.cpp's default context (F16 KV cache), CPU only.
    /// </summary>
    public (double PromptTokensPerS, double GenTokensPerS) BenchDecode(string modelPath, int threads, int promptTokens,
        int genTokens, int reps)
    {
        const int shortPrompt = 4;
        var mp = _modelDefaultParams();
        mp.NGpuLayers = 0;
        // mmap + mlock (llama.cpp's --mlock): this VM's DAMON pageout scheme drops file pages idle for a minute,
        // which llama.cpp's mapped weights are while Loom's round runs; without the lock its first timed runs
        // re-read the weights from disk (seen: 2-6 generated tokens/s instead of 19-28).
        mp.LoadMode = LoadModeMmapMlock;
        nint pathUtf8 = Marshal.StringToCoTaskMemUTF8(modelPath);
        nint model;
        try { model = _modelLoad((byte*)pathUtf8, mp); }
        finally { Marshal.FreeCoTaskMem(pathUtf8); }
        if (model == 0) throw new InvalidOperationException($"llama.cpp cannot load '{modelPath}'");
        nint ctx = 0;
        var batch = default(Batch);
        bool batchMade = false;
        try
        {
            int vocab = _vocabNTokens(_modelGetVocab(model));
            var cp = _contextDefaultParams();
            cp.NCtx = (uint)(Math.Max(promptTokens, shortPrompt + genTokens) + 16);
            cp.NBatch = cp.NUbatch = (uint)promptTokens;
            cp.NSeqMax = 1;
            cp.NThreads = cp.NThreadsBatch = threads;
            cp.NoPerf = 1;
            ctx = _initFromModel(model, cp);
            if (ctx == 0) throw new InvalidOperationException($"llama.cpp cannot create a context for '{modelPath}'");
            nint memory = _getMemory(ctx);
            batch = _batchInit(promptTokens, 0, 1);
            batchMade = true;
            var tokens = BenchTokens(promptTokens, vocab);
            var ppRates = new double[reps];
            var tgRates = new double[reps];
            for (int r = -1; r < reps; r++)
            {
                _memoryClear(memory, 1);
                Fill(ref batch, tokens, 0, lastLogitsOnly: true);
                long t0 = Stopwatch.GetTimestamp();
                Decode(ctx, batch);
                _synchronize(ctx);
                double ppSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;

                _memoryClear(memory, 1);
                Fill(ref batch, tokens.AsSpan(0, shortPrompt), 0, lastLogitsOnly: true);
                Decode(ctx, batch);
                int next = ArgMax(_getLogitsIth(ctx, -1), vocab);
                t0 = Stopwatch.GetTimestamp();
                for (int g = 0; g < genTokens; g++)
                {
                    Fill(ref batch, [next], shortPrompt + g, lastLogitsOnly: true);
                    Decode(ctx, batch);
                    next = ArgMax(_getLogitsIth(ctx, -1), vocab);
                }
                double tgSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (r >= 0)
                {
                    ppRates[r] = promptTokens / ppSeconds;
                    tgRates[r] = genTokens / tgSeconds;
                }
            }
            return (Median(ppRates), Median(tgRates));
        }
        finally
        {
            if (batchMade) _batchFree(batch);
            if (ctx != 0) _free(ctx);
            _modelFree(model);
        }
    }

    /// <summary>Fixed pseudo-random token ids; their values do not change the cost.</summary>
    public static int[] BenchTokens(int count, int vocab)
    {
        var tokens = new int[count];
        uint state = 12345;
        for (int i = 0; i < count; i++)
        {
            state = state * 1664525u + 1013904223u;
            tokens[i] = (int)(state % (uint)vocab);
        }
        return tokens;
    }

    /// <summary>The median of a non-empty sample (mean of the middle two for an even count).</summary>
    public static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    private void Decode(nint ctx, Batch batch)
    {
        int rc = _decode(ctx, batch);
        if (rc != 0) throw new InvalidOperationException($"llama_decode returned {rc}");
    }

    private static void Fill(ref Batch batch, ReadOnlySpan<int> tokens, int pos0, bool lastLogitsOnly)
    {
        batch.NTokens = tokens.Length;
        for (int i = 0; i < tokens.Length; i++)
        {
            batch.Token[i] = tokens[i];
            batch.Pos[i] = pos0 + i;
            batch.NSeqId[i] = 1;
            batch.SeqId[i][0] = 0;
            batch.Logits[i] = (sbyte)(!lastLogitsOnly || i == tokens.Length - 1 ? 1 : 0);
        }
    }

    private static int ArgMax(float* row, int n)
    {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (row[i] > row[best]) best = i;
        return best;
    }
}
