using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Models.Inference;

/// <summary>
/// Scalar ports of the ggml-cpu (x86 AVX2 build) float routines whose rounding Loom has to reproduce bit for bit to
/// stay on llama.cpp's side of every activation-quantization step: ggml_v_expf (a polynomial, not libm's expf),
/// ggml_v_silu, the lane order of hsum_float_8 and of ggml_vec_dot_f32's reduction. Each lane of ggml's vector code
/// computes the same function of its own inputs, so the scalar port gives the vector's results.
/// </summary>
internal static class GgmlMath
{
    /// <summary>ggml_v_expf (vec.h, AVX2 + FMA) for one lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        const float R = 12582912f;   // 0x1.8p23f
        float z = MathF.FusedMultiplyAdd(x, 1.44269502f /* 0x1.715476p+0f */, R);
        float n = z - R;
        float b = MathF.FusedMultiplyAdd(-n, 1.42860677e-06f /* 0x1.7f7d1cp-20f */, MathF.FusedMultiplyAdd(-n, 0.693145752f /* 0x1.62e4p-1f */, x));
        uint e = BitConverter.SingleToUInt32Bits(z) << 23;
        float k = BitConverter.UInt32BitsToSingle(e + BitConverter.SingleToUInt32Bits(1f));
        float u = b * b;
        float j = MathF.FusedMultiplyAdd(
            MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(0.00824739039f /* 0x1.0e4020p-7f */, b, 0.0418997668f /* 0x1.573e2ep-5f */), u,
                MathF.FusedMultiplyAdd(0.166683957f /* 0x1.555e66p-3f */, b, 0.499991268f /* 0x1.fffdb6p-2f */)),
            u, 0.999999404f /* 0x1.ffffecp-1f */ * b);
        if (!(MathF.Abs(n) > 126f)) return MathF.FusedMultiplyAdd(j, k, k);
        uint g = n <= 0f ? 0x82000000u : 0u;
        float s1 = BitConverter.UInt32BitsToSingle(g + 0x7f000000u);
        float s2 = BitConverter.UInt32BitsToSingle(e - g);
        if (MathF.Abs(n) > 192f) return s1 * s1;
        return MathF.FusedMultiplyAdd(s2, j, s2) * s1;
    }

    /// <summary>ggml_v_silu: x / (1 + ggml_v_expf(-x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Silu(float x) => x / (1f + Exp(0f - x));

    /// <summary>hsum_float_8 of a vector: (hi + lo), then lanes 0+2 and 1+3, then those two; the same sums as <see cref="HSum8(ReadOnlySpan{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum8(Vector256<float> v)
    {
        var t = Sse.Add(v.GetUpper(), v.GetLower());
        t = Sse.Add(t, Sse.MoveHighToLow(t, t));
        return Sse.AddScalar(t, Sse3.MoveHighAndDuplicate(t)).ToScalar();
    }

    /// <summary>hsum_float_8 of lanes a0..a7: ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum8(ReadOnlySpan<float> a)
        => ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3]));

    /// <summary>ggml_v_expf (vec.h, AVX2 + FMA), eight lanes at once: the same operations as <see cref="Exp"/> per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var r = Vector256.Create(12582912f);
        var z = Fma.MultiplyAdd(x, Vector256.Create(1.44269502f), r);
        var n = Avx.Subtract(z, r);
        var b = Fma.MultiplyAddNegated(n, Vector256.Create(1.42860677e-06f), Fma.MultiplyAddNegated(n, Vector256.Create(0.693145752f), x));
        var e = Avx2.ShiftLeftLogical(z.AsUInt32(), 23);
        var k = Avx2.Add(e, Vector256.Create(1f).AsUInt32()).AsSingle();
        var absN = Avx.AndNot(Vector256.Create(-0f), n);
        var c = Avx.Compare(absN, Vector256.Create(126f), FloatComparisonMode.OrderedGreaterThanNonSignaling);
        var u = Avx.Multiply(b, b);
        var j = Fma.MultiplyAdd(
            Fma.MultiplyAdd(Fma.MultiplyAdd(Vector256.Create(0.00824739039f), b, Vector256.Create(0.0418997668f)), u,
                Fma.MultiplyAdd(Vector256.Create(0.166683957f), b, Vector256.Create(0.499991268f))),
            u, Avx.Multiply(Vector256.Create(0.999999404f), b));
        if (Avx.MoveMask(c) == 0) return Fma.MultiplyAdd(j, k, k);
        var g = Avx2.And(Avx.Compare(n, Vector256<float>.Zero, FloatComparisonMode.OrderedLessThanOrEqualNonSignaling).AsUInt32(), Vector256.Create(0x82000000u));
        var s1 = Avx2.Add(g, Vector256.Create(0x7f000000u)).AsSingle();
        var s2 = Avx2.Subtract(e, g).AsSingle();
        var d = Avx.Compare(absN, Vector256.Create(192f), FloatComparisonMode.OrderedGreaterThanNonSignaling);
        return Avx.Or(Avx.And(d, Avx.Multiply(s1, s1)),
            Avx.AndNot(d, Avx.Or(Avx.And(c, Avx.Multiply(Fma.MultiplyAdd(s2, j, s2), s1)), Avx.AndNot(c, Fma.MultiplyAdd(k, j, k)))));
    }

    /// <summary>ggml_vec_swiglu_f32: gate[i] = silu(gate[i]) * up[i], eight lanes at a time as ggml_v_silu, the tail as ggml_silu_f32 (libm expf).</summary>
    public static unsafe void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        int n = gate.Length, i = 0;
        fixed (float* x = gate, g = up)
        {
            if (Fma.IsSupported && Avx2.IsSupported)
                for (; i + 8 <= n; i += 8)
                {
                    var v = Avx.LoadVector256(x + i);
                    var silu = Avx.Divide(v, Avx.Add(Vector256.Create(1f), Exp(Avx.Subtract(Vector256<float>.Zero, v))));
                    Avx.Store(x + i, Avx.Multiply(silu, Avx.LoadVector256(g + i)));
                }
            for (; i < n; i++) x[i] = x[i] / (1f + MathF.Exp(-x[i])) * g[i];
        }
    }
}
