using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loom.Tensors.Kernels;

/// <summary>An elementwise function of one vector, written for both widths so one driver loop serves AVX2 and AVX-512.</summary>
public interface IVecFn1
{
    Vector256<float> Invoke(Vector256<float> x);
    Vector512<float> Invoke(Vector512<float> x);
}

/// <summary>An elementwise function of two vectors (typically (input, gradient) in a backward kernel).</summary>
public interface IVecFn2
{
    Vector256<float> Invoke(Vector256<float> a, Vector256<float> b);
    Vector512<float> Invoke(Vector512<float> a, Vector512<float> b);
}

/// <summary>An elementwise function of three vectors.</summary>
public interface IVecFn3
{
    Vector256<float> Invoke(Vector256<float> a, Vector256<float> b, Vector256<float> c);
    Vector512<float> Invoke(Vector512<float> a, Vector512<float> b, Vector512<float> c);
}

/// <summary>
/// Drivers that run an <see cref="IVecFn1"/>/<see cref="IVecFn2"/>/<see cref="IVecFn3"/> over arrays, in parallel
/// on <see cref="ComputePool"/> for large arrays. The tail goes through the same vector code on a padded copy,
/// so every element gets bit-identical math whatever its position or the thread split.
/// </summary>
public static unsafe class Simd
{
    /// <summary>Elements per parallel work unit (a multiple of every vector width).</summary>
    private const int Unit = 64;

    public static bool Use512 => Vector512.IsHardwareAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Chunks(long n) => n < Ops.ParallelThreshold ? 1 : ComputePool.Threads;

    /// <summary>y[i] = fn(x[i]); x and y may alias.</summary>
    public static void Map<T>(T fn, float* x, float* y, long n) where T : struct, IVecFn1
    {
        if (n <= 0) return;
        var body = new Map1Body<T> { Fn = fn, X = x, Y = y, N = n };
        ComputePool.For((int)((n + Unit - 1) / Unit), body, Chunks(n));
    }

    /// <summary>d[i] = fn(a[i], b[i]).</summary>
    public static void Map<T>(T fn, float* a, float* b, float* d, long n) where T : struct, IVecFn2
    {
        if (n <= 0) return;
        var body = new Map2Body<T> { Fn = fn, A = a, B = b, D = d, N = n };
        ComputePool.For((int)((n + Unit - 1) / Unit), body, Chunks(n));
    }

    /// <summary>d[i] = fn(a[i], b[i], c[i]).</summary>
    public static void Map<T>(T fn, float* a, float* b, float* c, float* d, long n) where T : struct, IVecFn3
    {
        if (n <= 0) return;
        var body = new Map3Body<T> { Fn = fn, A = a, B = b, C = c, D = d, N = n };
        ComputePool.For((int)((n + Unit - 1) / Unit), body, Chunks(n));
    }

    private struct Map1Body<T> : IRangeBody where T : struct, IVecFn1
    {
        public T Fn;
        public float* X, Y;
        public long N;

        public readonly void Run(int start, int end)
        {
            long s = (long)start * Unit, e = Math.Min((long)end * Unit, N);
            MapRange(Fn, X + s, Y + s, e - s);
        }
    }

    private struct Map2Body<T> : IRangeBody where T : struct, IVecFn2
    {
        public T Fn;
        public float* A, B, D;
        public long N;

        public readonly void Run(int start, int end)
        {
            long s = (long)start * Unit, e = Math.Min((long)end * Unit, N);
            MapRange(Fn, A + s, B + s, D + s, e - s);
        }
    }

    private struct Map3Body<T> : IRangeBody where T : struct, IVecFn3
    {
        public T Fn;
        public float* A, B, C, D;
        public long N;

        public readonly void Run(int start, int end)
        {
            long s = (long)start * Unit, e = Math.Min((long)end * Unit, N);
            MapRange(Fn, A + s, B + s, C + s, D + s, e - s);
        }
    }

    /// <summary>Single-threaded y[i] = fn(x[i]).</summary>
    public static void MapRange<T>(T fn, float* x, float* y, long n) where T : struct, IVecFn1
    {
        long i = 0;
        float* ta = stackalloc float[16];
        if (Use512)
        {
            for (; i <= n - 16; i += 16) Vector512.Store(fn.Invoke(Vector512.Load(x + i)), y + i);
            if (i < n)
            {
                int r = (int)(n - i);
                Pad(ta, x + i, r);
                var v = fn.Invoke(Vector512.Load(ta));
                v.Store(ta);
                Copy(y + i, ta, r);
            }
        }
        else
        {
            for (; i <= n - 8; i += 8) Vector256.Store(fn.Invoke(Vector256.Load(x + i)), y + i);
            if (i < n)
            {
                int r = (int)(n - i);
                Pad(ta, x + i, r);
                var v = fn.Invoke(Vector256.Load(ta));
                v.Store(ta);
                Copy(y + i, ta, r);
            }
        }
    }

    /// <summary>Single-threaded d[i] = fn(a[i], b[i]).</summary>
    public static void MapRange<T>(T fn, float* a, float* b, float* d, long n) where T : struct, IVecFn2
    {
        long i = 0;
        float* ta = stackalloc float[16];
        float* tb = stackalloc float[16];
        if (Use512)
        {
            for (; i <= n - 16; i += 16) Vector512.Store(fn.Invoke(Vector512.Load(a + i), Vector512.Load(b + i)), d + i);
            if (i < n)
            {
                int r = (int)(n - i);
                Pad(ta, a + i, r); Pad(tb, b + i, r);
                fn.Invoke(Vector512.Load(ta), Vector512.Load(tb)).Store(ta);
                Copy(d + i, ta, r);
            }
        }
        else
        {
            for (; i <= n - 8; i += 8) Vector256.Store(fn.Invoke(Vector256.Load(a + i), Vector256.Load(b + i)), d + i);
            if (i < n)
            {
                int r = (int)(n - i);
                Pad(ta, a + i, r); Pad(tb, b + i, r);
                fn.Invoke(Vector256.Load(ta), Vector256.Load(tb)).Store(ta);
                Copy(d + i, ta, r);
            }
        }
    }

    /// <summary>Single-threaded d[i] = fn(a[i], b[i], c[i]).</summary>
    public static void MapRange<T>(T fn, float* a, float* b, float* c, float* d, long n) where T : struct, IVecFn3
    {
        long i = 0;
        float* ta = stackalloc float[16];
        float* tb = stackalloc float[16];
        float* tc = stackalloc float[16];
        if (Use512)
        {
            for (; i <= n - 16; i += 16) Vector512.Store(fn.Invoke(Vector512.Load(a + i), Vector512.Load(b + i), Vector512.Load(c + i)), d + i);
            if (i < n)
            {
                int r = (int)(n - i);
                Pad(ta, a + i, r); Pad(tb, b + i, r); Pad(tc, c + i, r);
                fn.Invoke(Vector512.Load(ta), Vector512.Load(tb), Vector512.Load(tc)).Store(ta);
                Copy(d + i, ta, r);
            }
        }
        else
        {
            for (; i <= n - 8; i += 8) Vector256.Store(fn.Invoke(Vector256.Load(a + i), Vector256.Load(b + i), Vector256.Load(c + i)), d + i);
            if (i < n)
            {
                int r = (int)(n - i);
                Pad(ta, a + i, r); Pad(tb, b + i, r); Pad(tc, c + i, r);
                fn.Invoke(Vector256.Load(ta), Vector256.Load(tb), Vector256.Load(tc)).Store(ta);
                Copy(d + i, ta, r);
            }
        }
    }

    // Pads with 1 so functions like log/rsqrt see harmless values in the unused lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pad(float* dst, float* src, int r)
    {
        for (int j = 0; j < 16; j++) dst[j] = j < r ? src[j] : 1f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* dst, float* src, int r)
    {
        for (int j = 0; j < r; j++) dst[j] = src[j];
    }

    // ---------- fused row reductions (scalar tails; order differences there do not matter for sums) ----------

    /// <summary>Sum of exp(x[i] - shift): the softmax denominator without materialising the exponentials.</summary>
    public static float SumExp(float* x, int n, float shift)
    {
        int i = 0;
        float acc;
        if (Use512)
        {
            var s = Vector512<float>.Zero;
            var sh = Vector512.Create(shift);
            for (; i <= n - 16; i += 16) s += Vector512.Exp(Vector512.Load(x + i) - sh);
            acc = Vector512.Sum(s);
        }
        else
        {
            var s = Vector256<float>.Zero;
            var sh = Vector256.Create(shift);
            for (; i <= n - 8; i += 8) s += Vector256.Exp(Vector256.Load(x + i) - sh);
            acc = Vector256.Sum(s);
        }
        for (; i < n; i++) acc += MathF.Exp(x[i] - shift);
        return acc;
    }

    /// <summary>y[i] = exp(x[i] - shift), returning their sum: softmax's numerator and denominator in one pass.</summary>
    public static float ExpShiftedSum(float* x, float* y, int n, float shift)
    {
        int i = 0;
        float acc;
        if (Use512)
        {
            var s = Vector512<float>.Zero;
            var sh = Vector512.Create(shift);
            for (; i <= n - 16; i += 16) { var e = Vector512.Exp(Vector512.Load(x + i) - sh); e.Store(y + i); s += e; }
            acc = Vector512.Sum(s);
        }
        else
        {
            var s = Vector256<float>.Zero;
            var sh = Vector256.Create(shift);
            for (; i <= n - 8; i += 8) { var e = Vector256.Exp(Vector256.Load(x + i) - sh); e.Store(y + i); s += e; }
            acc = Vector256.Sum(s);
        }
        for (; i < n; i++) { float e = MathF.Exp(x[i] - shift); y[i] = e; acc += e; }
        return acc;
    }

    /// <summary>Sum of (x[i] - mean)^2 (two-pass variance: no cancellation for large means).</summary>
    public static float SumSqCentered(float* x, int n, float mean)
    {
        int i = 0;
        float acc;
        if (Use512)
        {
            var s = Vector512<float>.Zero;
            var m = Vector512.Create(mean);
            for (; i <= n - 16; i += 16) { var d = Vector512.Load(x + i) - m; s = Vector512.FusedMultiplyAdd(d, d, s); }
            acc = Vector512.Sum(s);
        }
        else
        {
            var s = Vector256<float>.Zero;
            var m = Vector256.Create(mean);
            for (; i <= n - 8; i += 8) { var d = Vector256.Load(x + i) - m; s = Vector256.FusedMultiplyAdd(d, d, s); }
            acc = Vector256.Sum(s);
        }
        for (; i < n; i++) { float d = x[i] - mean; acc += d * d; }
        return acc;
    }

    /// <summary>Returns sum(a[i]) and sum(a[i] * (x[i] - mean)) in one pass.</summary>
    public static (float Sum, float Dot) SumAndDotCentered(float* a, float* x, int n, float mean)
    {
        int i = 0;
        float s0, s1;
        if (Use512)
        {
            Vector512<float> sa = default, sd = default;
            var m = Vector512.Create(mean);
            for (; i <= n - 16; i += 16)
            {
                var va = Vector512.Load(a + i);
                sa += va;
                sd = Vector512.FusedMultiplyAdd(va, Vector512.Load(x + i) - m, sd);
            }
            s0 = Vector512.Sum(sa); s1 = Vector512.Sum(sd);
        }
        else
        {
            Vector256<float> sa = default, sd = default;
            var m = Vector256.Create(mean);
            for (; i <= n - 8; i += 8)
            {
                var va = Vector256.Load(a + i);
                sa += va;
                sd = Vector256.FusedMultiplyAdd(va, Vector256.Load(x + i) - m, sd);
            }
            s0 = Vector256.Sum(sa); s1 = Vector256.Sum(sd);
        }
        for (; i < n; i++) { s0 += a[i]; s1 += a[i] * (x[i] - mean); }
        return (s0, s1);
    }

    /// <summary>acc[i] += g[i] * (x[i] - mean) * rstd in float64: a norm layer's weight gradient for one row.</summary>
    public static void AccumulateScaledCenteredF64(double* acc, float* g, float* x, int n, float mean, float rstd)
    {
        int i = 0;
        if (Use512)
        {
            var m = Vector512.Create((double)mean); var r = Vector512.Create((double)rstd);
            for (; i <= n - 16; i += 16)
            {
                var (g0, g1) = Vector512.Widen(Vector512.Load(g + i));
                var (x0, x1) = Vector512.Widen(Vector512.Load(x + i));
                Vector512.Store(Vector512.FusedMultiplyAdd(g0, (x0 - m) * r, Vector512.Load(acc + i)), acc + i);
                Vector512.Store(Vector512.FusedMultiplyAdd(g1, (x1 - m) * r, Vector512.Load(acc + i + 8)), acc + i + 8);
            }
        }
        else
        {
            var m = Vector256.Create((double)mean); var r = Vector256.Create((double)rstd);
            for (; i <= n - 8; i += 8)
            {
                var (g0, g1) = Vector256.Widen(Vector256.Load(g + i));
                var (x0, x1) = Vector256.Widen(Vector256.Load(x + i));
                Vector256.Store(Vector256.FusedMultiplyAdd(g0, (x0 - m) * r, Vector256.Load(acc + i)), acc + i);
                Vector256.Store(Vector256.FusedMultiplyAdd(g1, (x1 - m) * r, Vector256.Load(acc + i + 4)), acc + i + 4);
            }
        }
        for (; i < n; i++) acc[i] += (double)g[i] * (((double)x[i] - mean) * rstd);
    }

    /// <summary>acc[i] += src[i] in float64.</summary>
    public static void AccumulateF64(double* acc, float* src, int n)
    {
        int i = 0;
        if (Use512)
        {
            for (; i <= n - 16; i += 16)
            {
                var (s0, s1) = Vector512.Widen(Vector512.Load(src + i));
                Vector512.Store(Vector512.Load(acc + i) + s0, acc + i);
                Vector512.Store(Vector512.Load(acc + i + 8) + s1, acc + i + 8);
            }
        }
        else
        {
            for (; i <= n - 8; i += 8)
            {
                var (s0, s1) = Vector256.Widen(Vector256.Load(src + i));
                Vector256.Store(Vector256.Load(acc + i) + s0, acc + i);
                Vector256.Store(Vector256.Load(acc + i + 4) + s1, acc + i + 4);
            }
        }
        for (; i < n; i++) acc[i] += src[i];
    }
}

/// <summary>Vector math shared by the kernels (both widths): sigmoid, tanh, erfc, pow.</summary>
public static class VMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));

    // Cephes tanhf: a polynomial near zero, where 1 - 2/(e^2x + 1) would lose digits to cancellation.
    private const float T0 = -5.70498872745E-3f, T1 = 2.06390887954E-2f, T2 = -5.37397155531E-2f, T3 = 1.33314422036E-1f, T4 = -3.33332819422E-1f;

    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var ax = Vector256.Abs(x);
        var z = x * x;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(T0), z, Vector256.Create(T1));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(T2));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(T3));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(T4));
        var small = Vector256.FusedMultiplyAdd(p * z, x, x);
        var e = Vector256.Exp(ax + ax);
        var large = Vector256<float>.One - Vector256.Create(2f) / (e + Vector256<float>.One);
        large = Vector256.CopySign(large, x);
        return Vector256.ConditionalSelect(Vector256.LessThan(ax, Vector256.Create(0.625f)), small, large);
    }

    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var ax = Vector512.Abs(x);
        var z = x * x;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(T0), z, Vector512.Create(T1));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(T2));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(T3));
        p = Vector512.FusedMultiplyAdd(p, z, Vector512.Create(T4));
        var small = Vector512.FusedMultiplyAdd(p * z, x, x);
        var e = Vector512.Exp(ax + ax);
        var large = Vector512<float>.One - Vector512.Create(2f) / (e + Vector512<float>.One);
        large = Vector512.CopySign(large, x);
        return Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(0.625f)), small, large);
    }

    // Numerical Recipes erfcc: fractional error < 1.2e-7 for z >= 0, which keeps GELU's left tail accurate
    // (an erf with absolute error would lose all relative precision where 1 + erf(x) is tiny).
    private const float E0 = -1.26551223f, E1 = 1.00002368f, E2 = 0.37409196f, E3 = 0.09678418f, E4 = -0.18628806f,
        E5 = 0.27886807f, E6 = -1.13520398f, E7 = 1.48851587f, E8 = -0.82215223f, E9 = 0.17087277f;

    /// <summary>erfc(z) for z &gt;= 0.</summary>
    public static Vector256<float> ErfcNonNeg(Vector256<float> z)
    {
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(Vector256.Create(0.5f), z, Vector256<float>.One);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(E9), t, Vector256.Create(E8));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(E7));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(E6));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(E5));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(E4));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(E3));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(E2));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(E1));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(E0));
        return t * Vector256.Exp(p - z * z);
    }

    /// <summary>erfc(z) for z &gt;= 0.</summary>
    public static Vector512<float> ErfcNonNeg(Vector512<float> z)
    {
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(Vector512.Create(0.5f), z, Vector512<float>.One);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(E9), t, Vector512.Create(E8));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(E7));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(E6));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(E5));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(E4));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(E3));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(E2));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(E1));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(E0));
        return t * Vector512.Exp(p - z * z);
    }

    /// <summary>Normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2, accurate in both tails.</summary>
    public static Vector256<float> NormalCdf(Vector256<float> x)
    {
        var half = Vector256.Create(0.5f) * ErfcNonNeg(Vector256.Abs(x) * Vector256.Create(0.70710678118654752f));
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), Vector256<float>.One - half, half);
    }

    /// <summary>Normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2, accurate in both tails.</summary>
    public static Vector512<float> NormalCdf(Vector512<float> x)
    {
        var half = Vector512.Create(0.5f) * ErfcNonNeg(Vector512.Abs(x) * Vector512.Create(0.70710678118654752f));
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One - half, half);
    }

    /// <summary>
    /// x^p as exp(p log|x|) with the sign of x for odd integer p and NaN for negative x with a non-integer p
    /// (PyTorch's semantics). p = 0 is handled by the caller (0 * log 0 would be NaN).
    /// </summary>
    public static Vector256<float> Pow(Vector256<float> x, float p, bool isInt, bool odd)
    {
        var r = Vector256.Exp(Vector256.Create(p) * Vector256.Log(Vector256.Abs(x)));
        if (isInt) return odd ? Vector256.CopySign(r, x) : r;
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256.Create(float.NaN), r);
    }

    /// <summary>See the Vector256 overload.</summary>
    public static Vector512<float> Pow(Vector512<float> x, float p, bool isInt, bool odd)
    {
        var r = Vector512.Exp(Vector512.Create(p) * Vector512.Log(Vector512.Abs(x)));
        if (isInt) return odd ? Vector512.CopySign(r, x) : r;
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), Vector512.Create(float.NaN), r);
    }
}
