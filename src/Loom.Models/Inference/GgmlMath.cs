using System.Runtime.CompilerServices;

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

    /// <summary>hsum_float_8 of lanes a0..a7: ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum8(ReadOnlySpan<float> a)
        => ((a[4] + a[0]) + (a[6] + a[2])) + ((a[5] + a[1]) + (a[7] + a[3]));
}
