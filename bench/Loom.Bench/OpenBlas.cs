using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Loom.Bench;

/// <summary>OpenBLAS loaded at run time as a benchmark peer; a missing library just means there is no peer.</summary>
public sealed unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    private static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "libopenblas.so.0", "libopenblas.so", "libopenblas",
    ];

    private static readonly Lazy<OpenBlas?> Shared = new(Load);

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;
    private readonly delegate* unmanaged<int, void> _setThreads;
    private readonly delegate* unmanaged<nint> _corename;

    private OpenBlas(nint lib)
    {
        _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
            NativeLibrary.GetExport(lib, "cblas_sgemm");
        _setThreads = NativeLibrary.TryGetExport(lib, "openblas_set_num_threads", out nint st) ? (delegate* unmanaged<int, void>)st : null;
        _corename = NativeLibrary.TryGetExport(lib, "openblas_get_corename", out nint cn) ? (delegate* unmanaged<nint>)cn : null;
    }

    /// <summary>The process-wide instance, or null when no OpenBLAS library can be loaded.</summary>
    public static OpenBlas? Instance => Shared.Value;

    /// <summary>The kernel family OpenBLAS picked (e.g. "Haswell", "Zen", "SkylakeX").</summary>
    public string CoreName => _corename == null ? "?" : Marshal.PtrToStringUTF8(_corename()) ?? "?";

    public void SetThreads(int n)
    {
        if (_setThreads != null) _setThreads(n);
    }

    /// <summary>Row-major cblas_sgemm with the same argument order as Loom's Gemm.Sgemm.</summary>
    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc)
        => _sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    private static OpenBlas? Load()
    {
        // OpenBLAS 0.3.21 does not know Zen 5 and falls back to slow kernels unless told it is SkylakeX; on a CPU
        // without AVX-512 that core type would crash, so only force it where AVX-512 exists. It reads the variable
        // when the library is loaded, and Environment.SetEnvironmentVariable does not reach the C environment on
        // Linux, hence libc setenv before the first load.
        if (Avx512F.IsSupported && Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") is null)
            SetNativeEnv("OPENBLAS_CORETYPE", "SkylakeX");
        foreach (var name in Candidates)
        {
            if (NativeLibrary.TryLoad(name, out nint lib) && NativeLibrary.TryGetExport(lib, "cblas_sgemm", out _))
                return new OpenBlas(lib);
        }
        return null;
    }

    private static void SetNativeEnv(string name, string value)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        if (!NativeLibrary.TryLoad(OperatingSystem.IsLinux() ? "libc.so.6" : "libc.dylib", out nint libc)) return;
        if (!NativeLibrary.TryGetExport(libc, "setenv", out nint fn)) return;
        var setenv = (delegate* unmanaged<byte*, byte*, int, int>)fn;
        nint n = Marshal.StringToCoTaskMemUTF8(name), v = Marshal.StringToCoTaskMemUTF8(value);
        try { setenv((byte*)n, (byte*)v, 1); }
        finally { Marshal.FreeCoTaskMem(n); Marshal.FreeCoTaskMem(v); }
    }
}
