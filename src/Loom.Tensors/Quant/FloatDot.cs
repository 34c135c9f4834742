using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Convert-and-FMA dot products of an f16 or bf16 weight row with an f32 activation row (rounded through the weight
/// type), in the order of ggml_vec_dot_bf16 / ggml_vec_dot_f16 as built for AVX2 + FMA (libggml-cpu-haswell), which
/// ggml uses for one token and for weights tinyBLAS declines: four 8-lane FMA accumulators over 32-element steps,
/// reduced to a float, then the scalar tail added in double.
/// </summary>
internal static unsafe class FloatDot
{
    /// <summary>Whether the vector kernels run on this machine (else callers convert the row and use a plain dot).</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>ggml_vec_dot_bf16: accumulators reduced as (c1 + c3) + (c2 + c4), then hi + lo, lanes 0+2 and 1+3, those two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Bf16(ushort* w, float* x, int k)
    {
        var c = Accumulate32<HalfTile.Bf16>(w, x, k, out int i);
        var g = Sse.Add(c.GetUpper(), c.GetLower());
        g = Sse.Add(g, Sse.MoveHighToLow(g, g));
        double s = Sse.AddScalar(g, Sse3.MoveHighAndDuplicate(g)).ToScalar();
        for (; i < k; i++) s += BitConverter.UInt32BitsToSingle((uint)w[i] << 16) * x[i];
        return (float)s;
    }

    /// <summary>ggml_vec_dot_f16: GGML_F32x8_REDUCE (x0 + x2, x1 + x3, then those two; lo + hi and two horizontal adds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16(ushort* w, float* x, int k)
    {
        var r = Accumulate32<HalfTile.F16>(w, x, k, out int i);
        var t = Sse.Add(r.GetLower(), r.GetUpper());
        t = Sse3.HorizontalAdd(t, t);
        double s = Sse3.HorizontalAdd(t, t).ToScalar();
        for (; i < k; i++) s += (float)BitConverter.UInt16BitsToHalf(w[i]) * x[i];
        return (float)s;
    }

    /// <summary>Both ggml dots' main loop: four 8-lane accumulators over whole 32-element steps, combined as
    /// (a0 + a2) + (a1 + a3); <paramref name="done"/> is where the scalar tail starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Accumulate32<TW>(ushort* w, float* x, int k, out int done) where TW : HalfTile.IWiden
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            a0 = Fma.MultiplyAdd(TW.Load8(w + i), Avx.LoadVector256(x + i), a0);
            a1 = Fma.MultiplyAdd(TW.Load8(w + i + 8), Avx.LoadVector256(x + i + 8), a1);
            a2 = Fma.MultiplyAdd(TW.Load8(w + i + 16), Avx.LoadVector256(x + i + 16), a2);
            a3 = Fma.MultiplyAdd(TW.Load8(w + i + 24), Avx.LoadVector256(x + i + 24), a3);
        }
        done = i;
        return Avx.Add(Avx.Add(a0, a2), Avx.Add(a1, a3));
    }
}
