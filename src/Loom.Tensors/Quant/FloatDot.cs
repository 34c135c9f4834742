using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// Convert-and-FMA dot products of an f16 or bf16 weight row with an f32 activation row, for decode (one token),
/// where converting the row first would cost a second pass. f16 is widened with integer ops (.NET has no F16C):
/// exact for zero, subnormal and normal values, which is all a weight file holds.
/// </summary>
internal static unsafe class FloatDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Bf16x8(ushort* p) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(p), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> F16x8(ushort* p)
    {
        var h = Avx2.ConvertToVector256Int32(p);
        var mag = Avx.Multiply(Avx2.ShiftLeftLogical(Avx2.And(h, Vector256.Create(0x7fff)), 13).AsSingle(), Vector256.Create(5.192296858534828e33f)); // 2^112
        return Avx2.Or(mag.AsInt32(), Avx2.ShiftLeftLogical(Avx2.And(h, Vector256.Create(0x8000)), 16)).AsSingle();
    }

    /// <summary>Whether the vector kernels run on this machine (else callers convert the row and use a plain dot).</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Bf16(ushort* w, float* x, int k)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            a0 = Fma.MultiplyAdd(Bf16x8(w + i), Avx.LoadVector256(x + i), a0);
            a1 = Fma.MultiplyAdd(Bf16x8(w + i + 8), Avx.LoadVector256(x + i + 8), a1);
            a2 = Fma.MultiplyAdd(Bf16x8(w + i + 16), Avx.LoadVector256(x + i + 16), a2);
            a3 = Fma.MultiplyAdd(Bf16x8(w + i + 24), Avx.LoadVector256(x + i + 24), a3);
        }
        for (; i + 8 <= k; i += 8) a0 = Fma.MultiplyAdd(Bf16x8(w + i), Avx.LoadVector256(x + i), a0);
        float s = Vector256.Sum(Avx.Add(Avx.Add(a0, a1), Avx.Add(a2, a3)));
        for (; i < k; i++) s += BitConverter.UInt32BitsToSingle((uint)w[i] << 16) * x[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float F16(ushort* w, float* x, int k)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            a0 = Fma.MultiplyAdd(F16x8(w + i), Avx.LoadVector256(x + i), a0);
            a1 = Fma.MultiplyAdd(F16x8(w + i + 8), Avx.LoadVector256(x + i + 8), a1);
            a2 = Fma.MultiplyAdd(F16x8(w + i + 16), Avx.LoadVector256(x + i + 16), a2);
            a3 = Fma.MultiplyAdd(F16x8(w + i + 24), Avx.LoadVector256(x + i + 24), a3);
        }
        for (; i + 8 <= k; i += 8) a0 = Fma.MultiplyAdd(F16x8(w + i), Avx.LoadVector256(x + i), a0);
        float s = Vector256.Sum(Avx.Add(Avx.Add(a0, a1), Avx.Add(a2, a3)));
        for (; i < k; i++) s += (float)BitConverter.UInt16BitsToHalf(w[i]) * x[i];
        return s;
    }
}
