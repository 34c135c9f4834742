using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Small-batch kernel for f32 weights (a few decode rows of a served batch): two weight rows x four tokens per pass,
/// eight accumulators in registers, so each loaded weight vector feeds four FMAs and each activation vector two,
/// instead of one dot product (two loads per FMA) per (row, token).
/// </summary>
internal static unsafe class F32Tile
{
    public static bool Supported => Fma.IsSupported && Avx.IsSupported;

    /// <summary>y[t * ldy + r] = dot(w_r, x_t) for rows w0, w1 and tokens x, x + xs, x + 2xs, x + 3xs, all of length k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot2x4(float* w0, float* w1, float* x, nint xs, int k, float* y, nint ldy)
    {
        var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero; var a02 = Vector256<float>.Zero; var a03 = Vector256<float>.Zero;
        var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero; var a12 = Vector256<float>.Zero; var a13 = Vector256<float>.Zero;
        float* x0 = x, x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var v0 = Avx.LoadVector256(w0 + i);
            var v1 = Avx.LoadVector256(w1 + i);
            var t = Avx.LoadVector256(x0 + i);
            a00 = Fma.MultiplyAdd(v0, t, a00); a10 = Fma.MultiplyAdd(v1, t, a10);
            t = Avx.LoadVector256(x1 + i);
            a01 = Fma.MultiplyAdd(v0, t, a01); a11 = Fma.MultiplyAdd(v1, t, a11);
            t = Avx.LoadVector256(x2 + i);
            a02 = Fma.MultiplyAdd(v0, t, a02); a12 = Fma.MultiplyAdd(v1, t, a12);
            t = Avx.LoadVector256(x3 + i);
            a03 = Fma.MultiplyAdd(v0, t, a03); a13 = Fma.MultiplyAdd(v1, t, a13);
        }
        float s00 = Vector256.Sum(a00), s01 = Vector256.Sum(a01), s02 = Vector256.Sum(a02), s03 = Vector256.Sum(a03);
        float s10 = Vector256.Sum(a10), s11 = Vector256.Sum(a11), s12 = Vector256.Sum(a12), s13 = Vector256.Sum(a13);
        for (; i < k; i++)
        {
            float u0 = w0[i], u1 = w1[i];
            s00 += u0 * x0[i]; s01 += u0 * x1[i]; s02 += u0 * x2[i]; s03 += u0 * x3[i];
            s10 += u1 * x0[i]; s11 += u1 * x1[i]; s12 += u1 * x2[i]; s13 += u1 * x3[i];
        }
        y[0] = s00; y[ldy] = s01; y[2 * ldy] = s02; y[3 * ldy] = s03;
        y[1] = s10; y[ldy + 1] = s11; y[2 * ldy + 1] = s12; y[3 * ldy + 1] = s13;
    }
}
