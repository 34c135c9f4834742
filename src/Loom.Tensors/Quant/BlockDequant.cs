using System.Runtime.CompilerServices;

namespace Loom.Tensors.Quant;

/// <summary>
/// Scalar decoders for each ggml block type, written to give the same floats as ggml's dequantize_row_* bit for
/// bit: the same operations in the same order (no fused multiply-add, no reassociation).
/// </summary>
internal static unsafe class BlockDequant
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float H(byte* p) => (float)BitConverter.UInt16BitsToHalf(*(ushort*)p);

    public static void Q4_0(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 18, y += 32)
        {
            float d = H(x);
            byte* qs = x + 2;
            for (int j = 0; j < 16; j++)
            {
                y[j] = ((qs[j] & 0x0F) - 8) * d;
                y[j + 16] = ((qs[j] >> 4) - 8) * d;
            }
        }
    }

    public static void Q4_1(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 20, y += 32)
        {
            float d = H(x), m = H(x + 2);
            byte* qs = x + 4;
            for (int j = 0; j < 16; j++)
            {
                y[j] = (qs[j] & 0x0F) * d + m;
                y[j + 16] = (qs[j] >> 4) * d + m;
            }
        }
    }

    public static void Q5_0(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 22, y += 32)
        {
            float d = H(x);
            uint qh = *(uint*)(x + 2);
            byte* qs = x + 6;
            for (int j = 0; j < 16; j++)
            {
                int xh0 = (int)((qh >> j) << 4) & 0x10;
                int xh1 = (int)(qh >> (j + 12)) & 0x10;
                y[j] = (((qs[j] & 0x0F) | xh0) - 16) * d;
                y[j + 16] = (((qs[j] >> 4) | xh1) - 16) * d;
            }
        }
    }

    public static void Q5_1(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 24, y += 32)
        {
            float d = H(x), m = H(x + 2);
            uint qh = *(uint*)(x + 4);
            byte* qs = x + 8;
            for (int j = 0; j < 16; j++)
            {
                int xh0 = (int)((qh >> j) << 4) & 0x10;
                int xh1 = (int)(qh >> (j + 12)) & 0x10;
                y[j] = ((qs[j] & 0x0F) | xh0) * d + m;
                y[j + 16] = ((qs[j] >> 4) | xh1) * d + m;
            }
        }
    }

    public static void Q8_0(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 34, y += 32)
        {
            float d = H(x);
            sbyte* qs = (sbyte*)(x + 2);
            for (int j = 0; j < 32; j++) y[j] = qs[j] * d;
        }
    }

    public static void Q2_K(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 84)
        {
            byte* scales = x;
            byte* q = x + 16;
            float d = H(x + 80), min = H(x + 82);
            int isc = 0;
            for (int n = 0; n < 256; n += 128)
            {
                int shift = 0;
                for (int j = 0; j < 4; j++)
                {
                    int sc = scales[isc++];
                    float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[l] >> shift) & 3) - ml;
                    sc = scales[isc++];
                    dl = d * (sc & 0xF); ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[l + 16] >> shift) & 3) - ml;
                    shift += 2;
                }
                q += 32;
            }
        }
    }

    /// <summary>Unpacks the sixteen 6-bit Q3_K sub-block scales (stored biased by 32) into signed values.</summary>
    public static void Q3KScales(byte* packed, sbyte* scales)
    {
        const uint kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
        uint a0 = *(uint*)packed, a1 = *(uint*)(packed + 4), tmp = *(uint*)(packed + 8);
        uint* aux = stackalloc uint[4];
        aux[2] = ((a0 >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
        aux[3] = ((a1 >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
        aux[0] = (a0 & kmask2) | (((tmp >> 0) & kmask1) << 4);
        aux[1] = (a1 & kmask2) | (((tmp >> 2) & kmask1) << 4);
        for (int k = 0; k < 16; k++) scales[k] = (sbyte)(((byte*)aux)[k] - 32);
    }

    public static void Q3_K(byte* x, float* y, int nb)
    {
        sbyte* scales = stackalloc sbyte[16];
        for (int i = 0; i < nb; i++, x += 110)
        {
            byte* hm = x;
            byte* q = x + 32;
            float dAll = H(x + 108);
            Q3KScales(x + 96, scales);
            int isc = 0;
            int m = 1;
            for (int n = 0; n < 256; n += 128)
            {
                int shift = 0;
                for (int j = 0; j < 4; j++)
                {
                    float dl = dAll * scales[isc++];
                    for (int l = 0; l < 16; l++) *y++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) != 0 ? 0 : 4));
                    dl = dAll * scales[isc++];
                    for (int l = 0; l < 16; l++) *y++ = dl * (((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) != 0 ? 0 : 4));
                    shift += 2;
                    m <<= 1;
                }
                q += 32;
            }
        }
    }

    /// <summary>The 6-bit scale and min of sub-block <paramref name="j"/> (0..7) of a Q4_K/Q5_K block (ggml's get_scale_min_k4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMinK4(int j, byte* q, out byte d, out byte m)
    {
        if (j < 4) { d = (byte)(q[j] & 63); m = (byte)(q[j + 4] & 63); }
        else
        {
            d = (byte)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
            m = (byte)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
        }
    }

    public static void Q4_K(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 144)
        {
            float d = H(x), min = H(x + 2);
            byte* scales = x + 4;
            byte* q = x + 16;
            int isc = 0;
            for (int j = 0; j < 256; j += 64)
            {
                ScaleMinK4(isc, scales, out byte sc, out byte m);
                float d1 = d * sc, m1 = min * m;
                ScaleMinK4(isc + 1, scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
                q += 32; isc += 2;
            }
        }
    }

    public static void Q5_K(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 176)
        {
            float d = H(x), min = H(x + 2);
            byte* scales = x + 4;
            byte* qh = x + 16;
            byte* ql = x + 48;
            int isc = 0, u1 = 1, u2 = 2;
            for (int j = 0; j < 256; j += 64)
            {
                ScaleMinK4(isc, scales, out byte sc, out byte m);
                float d1 = d * sc, m1 = min * m;
                ScaleMinK4(isc + 1, scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - m2;
                ql += 32; isc += 2;
                u1 <<= 2; u2 <<= 2;
            }
        }
    }

    public static void Q6_K(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 210)
        {
            byte* ql = x;
            byte* qh = x + 128;
            sbyte* sc = (sbyte*)(x + 192);
            float d = H(x + 208);
            for (int n = 0; n < 256; n += 128)
            {
                for (int l = 0; l < 32; l++)
                {
                    int isc = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l] = d * sc[isc] * q1;
                    y[l + 32] = d * sc[isc + 2] * q2;
                    y[l + 64] = d * sc[isc + 4] * q3;
                    y[l + 96] = d * sc[isc + 6] * q4;
                }
                y += 128; ql += 64; qh += 32; sc += 8;
            }
        }
    }

    public static void Q8_K(byte* x, float* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 292)
        {
            float d = *(float*)x;
            sbyte* qs = (sbyte*)(x + 4);
            for (int j = 0; j < 256; j++) *y++ = d * qs[j];
        }
    }
}
