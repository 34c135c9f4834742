namespace Loom.Tensors;

/// <summary>Copies between arbitrarily strided tensors of the same dtype.</summary>
internal static unsafe class StridedCopy
{
    /// <summary>Copies <paramref name="src"/> in logical row-major order into contiguous memory at <paramref name="dst"/>.</summary>
    public static void Copy(Tensor src, byte* dst)
    {
        int es = DTypeInfo.SizeOf(src.DType);
        int rank = src.Rank;
        if (src.Length == 0) return;
        if (rank == 0) { Buffer.MemoryCopy(src.RawData, dst, es, es); return; }
        var shape = src.Shape;
        var strides = src.Strides;
        int inner = shape[rank - 1];
        int innerStride = strides[rank - 1];
        long outer = src.Length / inner;
        var idx = new int[rank];
        byte* basePtr = src.Storage.Pointer + src.Offset * es;
        for (long o = 0; o < outer; o++)
        {
            long off = 0;
            for (int d = 0; d < rank - 1; d++) off += (long)idx[d] * strides[d];
            byte* s = basePtr + off * es;
            byte* d0 = dst + o * inner * es;
            if (innerStride == 1) Buffer.MemoryCopy(s, d0, (long)inner * es, (long)inner * es);
            else if (es == 4)
            {
                float* sf = (float*)s; float* df = (float*)d0;
                for (int i = 0; i < inner; i++) df[i] = sf[(long)i * innerStride];
            }
            else
            {
                ushort* sf = (ushort*)s; ushort* df = (ushort*)d0;
                for (int i = 0; i < inner; i++) df[i] = sf[(long)i * innerStride];
            }
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
    }

    /// <summary>Copies a contiguous tensor into a (possibly strided) destination of the same shape and dtype.</summary>
    public static void CopyInto(Tensor srcContiguous, Tensor dst)
    {
        int es = DTypeInfo.SizeOf(dst.DType);
        int rank = dst.Rank;
        if (dst.Length == 0) return;
        if (rank == 0) { Buffer.MemoryCopy(srcContiguous.RawData, dst.RawData, es, es); return; }
        var shape = dst.Shape;
        var strides = dst.Strides;
        int inner = shape[rank - 1];
        int innerStride = strides[rank - 1];
        long outer = dst.Length / inner;
        var idx = new int[rank];
        byte* src = srcContiguous.RawData;
        byte* basePtr = dst.RawData;
        for (long o = 0; o < outer; o++)
        {
            long off = 0;
            for (int d = 0; d < rank - 1; d++) off += (long)idx[d] * strides[d];
            byte* dd = basePtr + off * es;
            byte* s0 = src + o * inner * es;
            for (int i = 0; i < inner; i++) Buffer.MemoryCopy(s0 + (long)i * es, dd + (long)i * innerStride * es, es, es);
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
    }
}
