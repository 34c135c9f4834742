using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Single-threaded C (m x n) (+)= A (m x k) * B (k x n) for small cache-resident tiles, all row-major. Fused
/// kernels (attention) call it from inside their own parallel loop, where the general <see cref="Gemm"/> would
/// only add dispatch and packing cost for 64 x 64 tiles.
/// </summary>
internal static unsafe class TileGemm
{
    public static void Run(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + 16 <= n; j += 16) Cols512(m, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
        for (; j + 16 <= n; j += 16) Cols256x2(m, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
        for (; j + 8 <= n; j += 8) Cols256(m, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
        if (j < n) ColsScalar(m, n - j, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);

    // 4 rows x 16 columns per block: 4 accumulators of 16 lanes stay in registers across the k loop.
    private static void Cols512(int m, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool acc)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            float* a0 = a + (long)i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
            float* bp = b;
            for (int p = 0; p < k; p++, bp += ldb)
            {
                var bv = Vector512.Load(bp);
                c0 = Fma(Vector512.Create(a0[p]), bv, c0);
                c1 = Fma(Vector512.Create(a1[p]), bv, c1);
                c2 = Fma(Vector512.Create(a2[p]), bv, c2);
                c3 = Fma(Vector512.Create(a3[p]), bv, c3);
            }
            float* cp = c + (long)i * ldc;
            Store(cp, c0, acc); Store(cp + ldc, c1, acc); Store(cp + 2L * ldc, c2, acc); Store(cp + 3L * ldc, c3, acc);
        }
        for (; i < m; i++)
        {
            float* a0 = a + (long)i * lda;
            Vector512<float> c0 = default;
            float* bp = b;
            for (int p = 0; p < k; p++, bp += ldb) c0 = Fma(Vector512.Create(a0[p]), Vector512.Load(bp), c0);
            Store(c + (long)i * ldc, c0, acc);
        }
    }

    private static void Cols256x2(int m, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool acc)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            float* a0 = a + (long)i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
            Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
            float* bp = b;
            for (int p = 0; p < k; p++, bp += ldb)
            {
                var b0 = Vector256.Load(bp);
                var b1 = Vector256.Load(bp + 8);
                var x = Vector256.Create(a0[p]); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = Vector256.Create(a1[p]); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = Vector256.Create(a2[p]); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = Vector256.Create(a3[p]); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            float* cp = c + (long)i * ldc;
            Store(cp, c00, acc); Store(cp + 8, c01, acc); cp += ldc;
            Store(cp, c10, acc); Store(cp + 8, c11, acc); cp += ldc;
            Store(cp, c20, acc); Store(cp + 8, c21, acc); cp += ldc;
            Store(cp, c30, acc); Store(cp + 8, c31, acc);
        }
        for (; i < m; i++)
        {
            float* a0 = a + (long)i * lda;
            Vector256<float> c0 = default, c1 = default;
            float* bp = b;
            for (int p = 0; p < k; p++, bp += ldb)
            {
                var x = Vector256.Create(a0[p]);
                c0 = Fma(x, Vector256.Load(bp), c0);
                c1 = Fma(x, Vector256.Load(bp + 8), c1);
            }
            float* cp = c + (long)i * ldc;
            Store(cp, c0, acc); Store(cp + 8, c1, acc);
        }
    }

    private static void Cols256(int m, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool acc)
    {
        for (int i = 0; i < m; i++)
        {
            float* a0 = a + (long)i * lda;
            Vector256<float> c0 = default;
            float* bp = b;
            for (int p = 0; p < k; p++, bp += ldb) c0 = Fma(Vector256.Create(a0[p]), Vector256.Load(bp), c0);
            Store(c + (long)i * ldc, c0, acc);
        }
    }

    private static void ColsScalar(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool acc)
    {
        for (int i = 0; i < m; i++)
        {
            float* a0 = a + (long)i * lda;
            float* cp = c + (long)i * ldc;
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++) s += a0[p] * b[(long)p * ldb + j];
                cp[j] = acc ? cp[j] + s : s;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* p, Vector256<float> v, bool acc)
    {
        if (acc) v += Vector256.Load(p);
        v.Store(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* p, Vector512<float> v, bool acc)
    {
        if (acc) v += Vector512.Load(p);
        v.Store(p);
    }

    /// <summary>dst (cols x rows, leading dimension ldd) = src (rows x cols, leading dimension lds) transposed.</summary>
    public static void Transpose(int rows, int cols, float* src, long lds, float* dst, int ldd)
    {
        for (int r = 0; r < rows; r++)
        {
            float* s = src + r * lds;
            for (int c = 0; c < cols; c++) dst[(long)c * ldd + r] = s[c];
        }
    }
}

/// <summary>Per-thread scratch memory for kernels run on <see cref="ComputePool"/>: grown on demand, never freed, so steady-state calls allocate nothing.</summary>
internal static class Scratch
{
    [ThreadStatic] private static float[]? _buffer;

    /// <summary>A buffer of at least <paramref name="floats"/> elements for this thread (contents undefined). Pin it with fixed.</summary>
    public static float[] Get(int floats)
    {
        var b = _buffer;
        if (b == null || b.Length < floats)
        {
            b = GC.AllocateUninitializedArray<float>(Math.Max(floats, b == null ? 0 : b.Length * 2), pinned: true);
            _buffer = b;
        }
        return b;
    }
}
