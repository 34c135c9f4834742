using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Tensors.Quant;

/// <summary>
/// f16 / bf16 weight rows times f32 token rows (already rounded through the weight type) in the order of llama.cpp's
/// tinyBLAS (llamafile_sgemm, AVX2), which ggml uses for these weights from two tokens on when the rows are a multiple
/// of 4 and the width of 8: every output is one 8-lane FMA accumulator over k in steps of 8, then hsum_float_8.
/// The order does not depend on tinyBLAS's tile shape, so any tiling here gives its results bit for bit.
/// </summary>
internal static unsafe class HalfTile
{
    /// <summary>Widens eight 16-bit floats of one kind to f32, exactly.</summary>
    public interface IWiden
    {
        static abstract Vector256<float> Load8(ushort* p);
    }

    public struct Bf16 : IWiden
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(ushort* p) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(p), 16).AsSingle();
    }

    public struct F16 : IWiden
    {
        /// <summary>Integer-op widening (.NET has no F16C): exact for zero, subnormal and normal values.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(ushort* p)
        {
            var h = Avx2.ConvertToVector256Int32(p);
            var mag = Avx.Multiply(Avx2.ShiftLeftLogical(Avx2.And(h, Vector256.Create(0x7fff)), 13).AsSingle(), Vector256.Create(5.192296858534828e33f)); // 2^112
            return Avx2.Or(mag.AsInt32(), Avx2.ShiftLeftLogical(Avx2.And(h, Vector256.Create(0x8000)), 16)).AsSingle();
        }
    }

    /// <summary>Whether the kernels run here, and whether ggml takes tinyBLAS for a (rows, cols) weight and this many tokens.</summary>
    public static bool Applies(int rows, int cols, int tokens) => FloatDot.Supported && tokens >= 2 && rows % 4 == 0 && cols % 8 == 0;

    /// <summary>y[t * ldy + r] = dot(w_r, x_t) for rows w0, w0 + ws and tokens x, x + xs, x + 2xs, x + 3xs (k a multiple of 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot2x4<TW>(ushort* w0, nint ws, float* x, nint xs, int k, float* y, nint ldy) where TW : struct, IWiden
    {
        var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero; var a02 = Vector256<float>.Zero; var a03 = Vector256<float>.Zero;
        var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero; var a12 = Vector256<float>.Zero; var a13 = Vector256<float>.Zero;
        ushort* w1 = w0 + ws;
        float* x0 = x, x1 = x + xs, x2 = x + 2 * xs, x3 = x + 3 * xs;
        for (int i = 0; i < k; i += 8)
        {
            var v0 = TW.Load8(w0 + i);
            var v1 = TW.Load8(w1 + i);
            var t = Avx.LoadVector256(x0 + i);
            a00 = Fma.MultiplyAdd(v0, t, a00); a10 = Fma.MultiplyAdd(v1, t, a10);
            t = Avx.LoadVector256(x1 + i);
            a01 = Fma.MultiplyAdd(v0, t, a01); a11 = Fma.MultiplyAdd(v1, t, a11);
            t = Avx.LoadVector256(x2 + i);
            a02 = Fma.MultiplyAdd(v0, t, a02); a12 = Fma.MultiplyAdd(v1, t, a12);
            t = Avx.LoadVector256(x3 + i);
            a03 = Fma.MultiplyAdd(v0, t, a03); a13 = Fma.MultiplyAdd(v1, t, a13);
        }
        y[0] = HSum(a00); y[ldy] = HSum(a01); y[2 * ldy] = HSum(a02); y[3 * ldy] = HSum(a03);
        y[1] = HSum(a10); y[ldy + 1] = HSum(a11); y[2 * ldy + 1] = HSum(a12); y[3 * ldy + 1] = HSum(a13);
    }

    /// <summary>One output in the same order (k a multiple of 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot<TW>(ushort* w, float* x, int k) where TW : struct, IWiden
    {
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < k; i += 8) acc = Fma.MultiplyAdd(TW.Load8(w + i), Avx.LoadVector256(x + i), acc);
        return HSum(acc);
    }

    /// <summary>
    /// Rows [r0, r1) of w (row stride <paramref name="wStride"/> elements) against all <paramref name="tokens"/> rows of x
    /// (stride k), into y (row stride ldy). Four tokens at a time outermost, so their rows stay in L2 while each
    /// pair of weight rows passes.
    /// </summary>
    public static void MatMul<TW>(ushort* w, nint wStride, int r0, int r1, float* x, int tokens, int k, float* y, nint ldy) where TW : struct, IWiden
    {
        int t = 0;
        for (; t + 4 <= tokens; t += 4)
        {
            int r = r0;
            for (; r + 2 <= r1; r += 2)
                Dot2x4<TW>(w + r * wStride, wStride, x + (long)t * k, k, k, y + t * ldy + r, ldy);
            for (; r < r1; r++)
                for (int u = t; u < t + 4; u++) y[u * ldy + r] = Dot<TW>(w + r * wStride, x + (long)u * k, k);
        }
        for (; t < tokens; t++)
            for (int r = r0; r < r1; r++) y[t * ldy + r] = Dot<TW>(w + r * wStride, x + (long)t * k, k);
    }

    /// <summary>tinyBLAS's hsum of a __m256: (hi + lo), then lanes 0+2 and 1+3, then those two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HSum(Vector256<float> v)
    {
        var t = Sse.Add(v.GetUpper(), v.GetLower());
        t = Sse.Add(t, Sse.MoveHighToLow(t, t));
        return Sse.AddScalar(t, Sse3.MoveHighAndDuplicate(t)).ToScalar();
    }
}
