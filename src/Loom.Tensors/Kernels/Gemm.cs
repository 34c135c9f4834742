using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Kernels;

/// <summary>Which micro-kernel family the blocked SGEMM uses; <see cref="Auto"/> picks the widest the CPU runs natively.</summary>
internal enum GemmKernelKind
{
    Auto,
    Scalar,
    Vector256,
    Vector512,
}

/// <summary>
/// Single-precision matrix multiply, row-major: C = alpha * op(A) * op(B) + beta * C, with op(X) = X or X^T.
/// A is (M,K) (or (K,M) when transposed) with leading dimension lda; B is (K,N) (or (N,K)); C is (M,N).
/// beta = 0 overwrites C without reading it.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>The kernel <see cref="GemmKernelKind.Auto"/> resolves to on this machine.</summary>
    internal static readonly GemmKernelKind NativeKernel =
        Vector512.IsHardwareAccelerated ? GemmKernelKind.Vector512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? GemmKernelKind.Vector256
        : GemmKernelKind.Scalar;

    /// <summary>The micro-kernel used on this machine, for benchmark and diagnostics output.</summary>
    public static string KernelDescription => NativeKernel switch
    {
        GemmKernelKind.Vector512 => "Vector512 12x32",
        GemmKernelKind.Vector256 => "AVX2/FMA 6x16",
        _ => "scalar 4x4",
    };

    /// <summary>
    /// Cache blocking per kernel. AVX2 (measured on Zen 3: 32 KiB L1d, 512 KiB L2 per core, shared L3): a KC x 16
    /// B panel (16 KiB) stays in L1 next to the streaming A panels, an MC x KC A block (~200 KiB) sits in L2, and
    /// NC = 1024 keeps the shared packed B block at 1 MiB: on this shared machine that beat 4096 (4 MiB) by 5-10%
    /// on 512x2048x8192 and was no worse elsewhere; KC 384/512 and MC 96-256 were within noise of these.
    /// AVX-512 (Zen 5: 48 KiB L1d, 1 MiB L2; not measured yet): KC x 32 B panel 32 KiB, A block ~300 KiB.
    /// LOOM_GEMM_BLOCKING=kc,mc,nc overrides all three (for tuning on new hardware).
    /// </summary>
    internal static GemmBlocking Blocking256 = new(256, 192, 1024);
    internal static GemmBlocking Blocking512 = new(256, 288, 1024);
    internal static GemmBlocking BlockingScalar = new(256, 64, 2048);

    static Gemm()
    {
        var env = Environment.GetEnvironmentVariable("LOOM_GEMM_BLOCKING");
        if (env is null) return;
        var parts = env.Split(',');
        if (parts.Length == 3 && int.TryParse(parts[0], out int kc) && int.TryParse(parts[1], out int mc) &&
            int.TryParse(parts[2], out int nc) && kc > 0 && mc > 0 && nc > 0)
        {
            Blocking256 = Blocking512 = BlockingScalar = new GemmBlocking(kc, mc, nc);
        }
    }

    /// <summary>C = alpha * op(A) * op(B) + beta * C on the shared <see cref="ComputePool"/>.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
        => Sgemm(GemmKernelKind.Auto, ComputePool.Threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// Sgemm with an explicit kernel and thread count (tests use it to cover every kernel). A kernel the CPU
    /// lacks still runs, through the portable vector API's software fallback: correct, slow.
    /// </summary>
    internal static void Sgemm(GemmKernelKind kind, int threads, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        Validate(transA, transB, m, n, k, lda, ldb, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        if (kind == GemmKernelKind.Auto && (m == 1 || n == 1))
        {
            SgemvDispatch(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        switch (kind == GemmKernelKind.Auto ? NativeKernel : kind)
        {
            case GemmKernelKind.Vector512:
                GemmDriver.Run<GemmKernel12x32>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Blocking512, threads);
                break;
            case GemmKernelKind.Vector256:
                GemmDriver.Run<GemmKernel6x16>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Blocking256, threads);
                break;
            default:
                GemmDriver.Run<GemmKernelScalar>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, BlockingScalar, threads);
                break;
        }
    }

    /// <summary>
    /// C (M, N) = A (M, K) · Bᵀ where B (N, K) is a matrix of encoded rows (quantized or half-precision weights):
    /// the blocked SGEMM with B decoded while it is packed, each weight once per call.
    /// </summary>
    internal static void SgemmEncodedB(GemmKernelKind kind, int threads, int m, int n, int k, float* a, int lda, EncodedRows b, float* c, int ldc)
    {
        if (m <= 0 || n <= 0 || k <= 0) throw new ArgumentException($"SgemmEncodedB needs positive sizes, got ({m}, {n}, {k})");
        if (k % b.BlockElements != 0) throw new ArgumentException($"K = {k} is not a multiple of {b.Type}'s block of {b.BlockElements}");
        switch (kind == GemmKernelKind.Auto ? NativeKernel : kind)
        {
            case GemmKernelKind.Vector512:
                GemmDriver.Run<GemmKernel12x32>(false, true, m, n, k, 1f, a, lda, null, k, 0f, c, ldc, Blocking512, threads, b);
                break;
            case GemmKernelKind.Vector256:
                GemmDriver.Run<GemmKernel6x16>(false, true, m, n, k, 1f, a, lda, null, k, 0f, c, ldc, Blocking256, threads, b);
                break;
            default:
                GemmDriver.Run<GemmKernelScalar>(false, true, m, n, k, 1f, a, lda, null, k, 0f, c, ldc, BlockingScalar, threads, b);
                break;
        }
    }

    /// <summary>
    /// Batched Sgemm with fixed element strides between consecutive matrices. Small matrices run one per thread
    /// (each Sgemm inside then runs inline); large ones run one after another, each using every thread.
    /// </summary>
    public static void SgemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB, float beta, float* c, int ldc, long strideC)
    {
        if (batch <= 0) return;
        int threads = ComputePool.Threads;
        if (batch > 1 && threads > 1 && (long)m * n * k <= SmallBatchWork)
        {
            ComputePool.For(batch, new BatchBody
            {
                TransA = transA, TransB = transB, M = m, N = n, K = k, Alpha = alpha, A = a, Lda = lda, StrideA = strideA,
                B = b, Ldb = ldb, StrideB = strideB, Beta = beta, C = c, Ldc = ldc, StrideC = strideC,
            });
            return;
        }
        for (int i = 0; i < batch; i++)
            Sgemm(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC, ldc);
    }

    /// <summary>Multiply-adds per matrix below which a batch is split across threads rather than each matrix.</summary>
    internal const long SmallBatchWork = 256L * 256 * 256;

    private struct BatchBody : IRangeBody
    {
        public bool TransA, TransB;
        public int M, N, K, Lda, Ldb, Ldc;
        public float Alpha, Beta;
        public float* A, B, C;
        public long StrideA, StrideB, StrideC;

        public readonly void Run(int start, int end)
        {
            for (int i = start; i < end; i++)
                Sgemm(GemmKernelKind.Auto, 1, TransA, TransB, M, N, K, Alpha, A + i * StrideA, Lda, B + i * StrideB, Ldb, Beta, C + i * StrideC, Ldc);
        }
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"Sgemm: negative size {m}x{n}x{k}");
        if (lda < (transA ? m : k)) throw new ArgumentOutOfRangeException(nameof(lda), $"Sgemm: lda {lda} is smaller than a row of A");
        if (ldb < (transB ? k : n)) throw new ArgumentOutOfRangeException(nameof(ldb), $"Sgemm: ldb {ldb} is smaller than a row of B");
        if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), $"Sgemm: ldc {ldc} is smaller than a row of C");
    }

    /// <summary>C = beta * C; beta = 0 writes zeros (NaN in C must not survive).</summary>
    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>
    /// Routes M = 1 or N = 1 to a matrix-vector kernel that reads the matrix operand with unit stride:
    /// when its rows run along the output it is the "rows" form, otherwise the "dots" form.
    /// </summary>
    private static void SgemvDispatch(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (m == 1)
        {
            // y (1 x n) = x (1 x k) * op(B); x[p] = op(A)[0, p].
            nint incx = transA ? lda : 1;
            if (!transB) Gemv.Rows(k, n, alpha, b, ldb, a, incx, beta, c, 1);
            else Gemv.Dots(n, k, alpha, b, ldb, a, incx, beta, c, 1);
        }
        else
        {
            // y (m x 1, stride ldc) = op(A) * x; x[p] = op(B)[p, 0].
            nint incx = transB ? 1 : ldb;
            if (transA) Gemv.Rows(k, m, alpha, a, lda, b, incx, beta, c, ldc);
            else Gemv.Dots(m, k, alpha, a, lda, b, incx, beta, c, ldc);
        }
    }
}
