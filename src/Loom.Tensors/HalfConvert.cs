using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loom.Tensors;

/// <summary>Fast conversions between float32, IEEE half (F16) and bfloat16 (BF16).</summary>
public static unsafe class HalfConvert
{
    /// <summary>bfloat16 is the top half of a float32; rounding is to nearest even, NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FloatToBF16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (ushort)((u >> 16) | 0x40);
        u += 0x7fff + ((u >> 16) & 1);
        return (ushort)(u >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BF16ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    public static void FloatToBF16(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination too short");
        int i = 0;
        fixed (float* ps = src)
        fixed (ushort* pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var bias = Vector512.Create(0x7fffu);
                var one = Vector512.Create(1u);
                var absMask = Vector512.Create(0x7fffffffu);
                var inf = Vector512.Create(0x7f800000u);
                var quiet = Vector512.Create(0x400000u);
                for (; i + 16 <= src.Length; i += 16)
                {
                    var u = Vector512.Load((uint*)ps + i);
                    var isNan = Vector512.GreaterThan(u & absMask, inf);
                    var rounded = u + bias + ((u >> 16) & one);
                    var r = Vector512.ConditionalSelect(isNan, u | quiet, rounded) >> 16;
                    Vector256.Store(Vector256.Narrow(r.GetLower(), r.GetUpper()), pd + i);
                }
            }
            for (; i < src.Length; i++) pd[i] = FloatToBF16(ps[i]);
        }
    }

    public static void BF16ToFloat(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination too short");
        int i = 0;
        fixed (ushort* ps = src)
        fixed (float* pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= src.Length; i += 16)
                {
                    var v = Vector256.Load(ps + i);
                    var (lo, hi) = Vector256.Widen(v);
                    Vector512.Store(Vector512.Create(lo, hi) << 16, (uint*)pd + i);
                }
            }
            for (; i < src.Length; i++) pd[i] = BF16ToFloat(ps[i]);
        }
    }

    public static void FloatToHalf(ReadOnlySpan<float> src, Span<Half> dst) => TensorPrimitives.ConvertToHalf(src, dst);

    public static void HalfToFloat(ReadOnlySpan<Half> src, Span<float> dst) => TensorPrimitives.ConvertToSingle(src, dst);

    /// <summary>Converts <paramref name="n"/> elements between any two dtypes.</summary>
    public static void Convert(byte* src, DType from, byte* dst, DType to, int n)
    {
        if (from == to)
        {
            long bytes = (long)n * DTypeInfo.SizeOf(from);
            Buffer.MemoryCopy(src, dst, bytes, bytes);
            return;
        }
        if (from == DType.F32)
        {
            var s = new ReadOnlySpan<float>(src, n);
            if (to == DType.F16) FloatToHalf(s, new Span<Half>(dst, n));
            else FloatToBF16(s, new Span<ushort>(dst, n));
            return;
        }
        if (to == DType.F32)
        {
            var d = new Span<float>(dst, n);
            if (from == DType.F16) HalfToFloat(new ReadOnlySpan<Half>(src, n), d);
            else BF16ToFloat(new ReadOnlySpan<ushort>(src, n), d);
            return;
        }
        // F16 <-> BF16 through float32, in chunks on the stack.
        const int Chunk = 1024;
        float* tmp = stackalloc float[Chunk];
        for (int i = 0; i < n; i += Chunk)
        {
            int m = Math.Min(Chunk, n - i);
            Convert(src + (long)i * 2, from, (byte*)tmp, DType.F32, m);
            Convert((byte*)tmp, DType.F32, dst + (long)i * 2, to, m);
        }
    }
}
