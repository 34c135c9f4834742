using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Quantizes activation rows to the type a weight type's dot product expects (ggml's vec_dot_type): Q8_0 for
/// Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants. Matches ggml-cpu's x86 from_float: scale 127/amax,
/// round half to even.
/// </summary>
internal static unsafe class ActivationQuant
{
    /// <summary>The activation block type that <paramref name="weights"/> is multiplied with.</summary>
    public static GgmlType DotType(GgmlType weights) => weights switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => GgmlType.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlType.Q8_1,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => GgmlType.Q8_K,
        _ => GgmlType.F32,
    };

    /// <summary>Quantizes <paramref name="n"/> floats of <paramref name="x"/> to <paramref name="type"/> at <paramref name="y"/>.</summary>
    public static void Quantize(GgmlType type, float* x, byte* y, int n)
    {
        switch (type)
        {
            case GgmlType.Q8_0: Q8(x, y, n / 32, false); break;
            case GgmlType.Q8_1: Q8(x, y, n / 32, true); break;
            case GgmlType.Q8_K: BlockQuantize.Q8_K(x, y, n / 256); break;
            case GgmlType.F32: Buffer.MemoryCopy(x, y, (long)n * 4, (long)n * 4); break;
            default: throw new NotSupportedException($"{type} is not an activation type");
        }
    }

    /// <summary>Q8_0 (34-byte blocks: f16 d, 32 int8) or, with <paramref name="withSum"/>, Q8_1 (36 bytes: f16 d, f16 d*sum, 32 int8).</summary>
    private static void Q8(float* x, byte* y, int nb, bool withSum)
    {
        int stride = withSum ? 36 : 34, qoff = withSum ? 4 : 2;
        for (int i = 0; i < nb; i++, x += 32, y += stride)
        {
            float amax = 0;
            if (Avx.IsSupported)
            {
                var m = Vector256.Max(Vector256.Max(Vector256.Abs(Avx.LoadVector256(x)), Vector256.Abs(Avx.LoadVector256(x + 8))),
                                      Vector256.Max(Vector256.Abs(Avx.LoadVector256(x + 16)), Vector256.Abs(Avx.LoadVector256(x + 24))));
                var m4 = Vector128.Max(m.GetLower(), m.GetUpper());
                amax = MathF.Max(MathF.Max(m4[0], m4[1]), MathF.Max(m4[2], m4[3]));
            }
            else for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float d = amax / 127f;
            *(ushort*)y = BitConverter.HalfToUInt16Bits((Half)d);
            float id = amax != 0 ? 127f / amax : 0f;
            sbyte* q = (sbyte*)(y + qoff);
            int sum = 0;
            for (int j = 0; j < 32; j++)
            {
                int v = (int)MathF.Round(x[j] * id, MidpointRounding.ToEven);
                q[j] = (sbyte)v;
                sum += v;
            }
            if (withSum) *(ushort*)(y + 2) = BitConverter.HalfToUInt16Bits((Half)(d * sum));
        }
    }
}
