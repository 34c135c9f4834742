using System.Runtime.CompilerServices;

namespace Loom.Tensors.Quant;

/// <summary>
/// Scalar encoders for each ggml block type, ports of ggml's quantize_row_*_ref (the deterministic reference used
/// when no importance matrix is given), including the K-quant scale searches make_qx_quants, make_q3_quants and
/// make_qkx2_quants. Sums run in the same order as the C code so the bytes match ggml's.
/// </summary>
internal static unsafe class BlockQuantize
{
    private const float GroupMaxEps = 1e-15f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Fp16(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Fp16Round(float f) => (float)(Half)f;

    /// <summary>ggml's nearest_int: round half to even via the 1.5 * 2^23 trick, for |f| &lt;= 4194303.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestInt(float f)
    {
        float v = f + 12582912f;
        return (BitConverter.SingleToInt32Bits(v) & 0x007fffff) - 0x00400000;
    }

    private static void PutHalf(byte* p, float f) => *(ushort*)p = Fp16(f);

    public static void Q4_0(float* x, byte* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 32, y += 18)
        {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
            {
                float v = x[j];
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            }
            float d = max / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            PutHalf(y, d);
            for (int j = 0; j < 16; j++)
            {
                float x0 = x[j] * id, x1 = x[16 + j] * id;
                int xi0 = Math.Min(15, (int)(sbyte)(int)(x0 + 8.5f));
                int xi1 = Math.Min(15, (int)(sbyte)(int)(x1 + 8.5f));
                y[2 + j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    public static void Q4_1(float* x, byte* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 32, y += 20)
        {
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < 32; j++)
            {
                float v = x[j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 15;
            float id = d != 0 ? 1.0f / d : 0.0f;
            PutHalf(y, d);
            PutHalf(y + 2, min);
            for (int j = 0; j < 16; j++)
            {
                float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
                int xi0 = Math.Min(15, (int)(sbyte)(int)(x0 + 0.5f));
                int xi1 = Math.Min(15, (int)(sbyte)(int)(x1 + 0.5f));
                y[4 + j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    public static void Q5_0(float* x, byte* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 32, y += 22)
        {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
            {
                float v = x[j];
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            }
            float d = max / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            PutHalf(y, d);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                float x0 = x[j] * id, x1 = x[16 + j] * id;
                int xi0 = Math.Min(31, (int)(sbyte)(int)(x0 + 16.5f));
                int xi1 = Math.Min(31, (int)(sbyte)(int)(x1 + 16.5f));
                y[6 + j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= (uint)((xi0 & 0x10) >> 4) << j;
                qh |= (uint)((xi1 & 0x10) >> 4) << (j + 16);
            }
            *(uint*)(y + 2) = qh;
        }
    }

    public static void Q5_1(float* x, byte* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 32, y += 24)
        {
            float min = float.MaxValue, max = -float.MaxValue;
            for (int j = 0; j < 32; j++)
            {
                float v = x[j];
                if (v < min) min = v;
                if (v > max) max = v;
            }
            float d = (max - min) / 31;
            float id = d != 0 ? 1.0f / d : 0.0f;
            PutHalf(y, d);
            PutHalf(y + 2, min);
            uint qh = 0;
            for (int j = 0; j < 16; j++)
            {
                float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
                int xi0 = (byte)(int)(x0 + 0.5f);
                int xi1 = (byte)(int)(x1 + 0.5f);
                y[8 + j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= (uint)((xi0 & 0x10) >> 4) << j;
                qh |= (uint)((xi1 & 0x10) >> 4) << (j + 16);
            }
            *(uint*)(y + 4) = qh;
        }
    }

    public static void Q8_0(float* x, byte* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 32, y += 34)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            PutHalf(y, d);
            for (int j = 0; j < 32; j++) y[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    public static void Q8_K(float* x, byte* y, int nb)
    {
        for (int i = 0; i < nb; i++, x += 256, y += 292)
        {
            float max = 0, amax = 0;
            for (int j = 0; j < 256; j++)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax) { amax = ax; max = x[j]; }
            }
            sbyte* qs = (sbyte*)(y + 4);
            short* bsums = (short*)(y + 260);
            if (amax == 0)
            {
                new Span<byte>(y, 292).Clear();
                continue;
            }
            float iscale = -127f / max;
            for (int j = 0; j < 256; j++) qs[j] = (sbyte)Math.Min(127, NearestInt(iscale * x[j]));
            for (int j = 0; j < 16; j++)
            {
                int sum = 0;
                for (int ii = 0; ii < 16; ii++) sum += qs[j * 16 + ii];
                bsums[j] = (short)sum;
            }
            *(float*)y = 1 / iscale;
        }
    }

    // ---------------------------------------------------------------- K-quant scale searches

    private static float MakeQxQuants(int n, int nmax, float* x, sbyte* L, int rmseType)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        if (rmseType == 0)
        {
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * x[i]);
                L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, l)));
            }
            return 1 / iscale;
        }
        bool returnEarly = false;
        if (rmseType < 0) { rmseType = -rmseType; returnEarly = true; }
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * x[i]);
            l = Math.Max(-nmax, Math.Min(nmax - 1, l));
            L[i] = (sbyte)(l + nmax);
            float w = Weight(rmseType, x[i]);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        if (returnEarly) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
        float best = scale * sumlx;
        for (int @is = -9; @is <= 9; @is++)
        {
            if (@is == 0) continue;
            iscale = -(nmax + 0.1f * @is) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * x[i]);
                l = Math.Max(-nmax, Math.Min(nmax - 1, l));
                float w = Weight(rmseType, x[i]);
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++)
                {
                    int l = NearestInt(iscale * x[i]);
                    L[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, l)));
                }
                scale = sumlx / suml2; best = scale * sumlx;
            }
        }
        return scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Weight(int rmseType, float x) => rmseType switch
    {
        1 => x * x,
        2 => 1,
        3 => MathF.Abs(x),
        _ => MathF.Sqrt(MathF.Abs(x)),
    };

    private static float MakeQ3Quants(int n, int nmax, float* x, sbyte* L)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * x[i]);
            l = Math.Max(-nmax, Math.Min(nmax - 1, l));
            L[i] = (sbyte)l;
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; itry++)
        {
            int nChanged = 0;
            for (int i = 0; i < n; i++)
            {
                float w = x[i] * x[i];
                float slx = sumlx - w * x[i] * L[i];
                if (slx > 0)
                {
                    float sl2 = suml2 - w * L[i] * L[i];
                    int newL = NearestInt(x[i] * sl2 / slx);
                    newL = Math.Max(-nmax, Math.Min(nmax - 1, newL));
                    if (newL != L[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            L[i] = (sbyte)newL; sumlx = slx; suml2 = sl2;
                            nChanged++;
                        }
                    }
                }
            }
            if (nChanged == 0) break;
        }
        for (int i = 0; i < n; i++) L[i] = (sbyte)(L[i] + nmax);
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }

    private static float MakeQkx2Quants(int n, int nmax, float* x, float* weights, byte* L, out float theMin, byte* Laux,
        float rmin, float rdelta, int nstep, bool useMad)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) { theMin = -min; return scale; }
        for (int @is = 0; @is <= nstep; @is++)
        {
            iscale = (rmin + rdelta * @is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * (x[i] - min));
                l = Math.Max(0, Math.Min(nmax, l));
                Laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0)
            {
                float thisScale = (sumW * sumXl - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / D;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * Laux[i] + thisMin - x[i];
                    diff = useMad ? MathF.Abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError)
                {
                    for (int i = 0; i < n; i++) L[i] = Laux[i];
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    // ---------------------------------------------------------------- K-quants

    public static void Q2_K(float* x, byte* y, int nb)
    {
        byte* L = stackalloc byte[256];
        byte* Laux = stackalloc byte[16];
        float* weights = stackalloc float[16];
        float* mins = stackalloc float[16];
        float* scales = stackalloc float[16];
        const float q4scale = 15f;
        for (int i = 0; i < nb; i++, x += 256, y += 84)
        {
            byte* ys = y;            // scales[16]
            byte* qs = y + 16;       // qs[64]
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 16; j++)
            {
                for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(x[16 * j + l]);
                scales[j] = MakeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, out mins[j], Laux, -0.5f, 0.1f, 15, true);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            if (maxScale > 0)
            {
                float iscale = q4scale / maxScale;
                for (int j = 0; j < 16; j++) ys[j] = (byte)NearestInt(iscale * scales[j]);
                PutHalf(y + 80, maxScale / q4scale);
            }
            else
            {
                for (int j = 0; j < 16; j++) ys[j] = 0;
                PutHalf(y + 80, 0f);
            }
            if (maxMin > 0)
            {
                float iscale = q4scale / maxMin;
                for (int j = 0; j < 16; j++) ys[j] |= (byte)(NearestInt(iscale * mins[j]) << 4);
                PutHalf(y + 82, maxMin / q4scale);
            }
            else PutHalf(y + 82, 0f);
            float dAll = BlockDequant.H(y + 80), dminAll = BlockDequant.H(y + 82);
            for (int j = 0; j < 16; j++)
            {
                float d = dAll * (ys[j] & 0xF);
                if (d == 0) continue;
                float dm = dminAll * (ys[j] >> 4);
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = NearestInt((x[16 * j + ii] + dm) / d);
                    L[16 * j + ii] = (byte)Math.Max(0, Math.Min(3, l));
                }
            }
            for (int j = 0; j < 256; j += 128)
                for (int l = 0; l < 32; l++)
                    qs[j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }

    public static void Q3_K(float* x, byte* y, int nb)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];
        for (int i = 0; i < nb; i++, x += 256, y += 110)
        {
            byte* hmask = y;          // [32]
            byte* qs = y + 32;        // [64]
            byte* ysc = y + 96;       // [12]
            float maxScale = 0, amax = 0;
            for (int j = 0; j < 16; j++)
            {
                scales[j] = MakeQ3Quants(16, 4, x + 16 * j, L + 16 * j);
                float scale = MathF.Abs(scales[j]);
                if (scale > amax) { amax = scale; maxScale = scales[j]; }
            }
            for (int j = 0; j < 12; j++) ysc[j] = 0;
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int j = 0; j < 16; j++)
                {
                    int l = (sbyte)NearestInt(iscale * scales[j]);
                    l = Math.Max(-32, Math.Min(31, l)) + 32;
                    if (j < 8) ysc[j] = (byte)(l & 0xF);
                    else ysc[j - 8] |= (byte)((l & 0xF) << 4);
                    l >>= 4;
                    ysc[j % 4 + 8] |= (byte)(l << (2 * (j / 4)));
                }
                PutHalf(y + 108, 1 / iscale);
            }
            else PutHalf(y + 108, 0f);
            float dAll = BlockDequant.H(y + 108);
            for (int j = 0; j < 16; j++)
            {
                int sc = j < 8 ? ysc[j] & 0xF : ysc[j - 8] >> 4;
                sc = (sbyte)((sc | (((ysc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
                float d = dAll * sc;
                if (d == 0) continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = NearestInt(x[16 * j + ii] / d);
                    l = Math.Max(-4, Math.Min(3, l));
                    L[16 * j + ii] = (sbyte)(l + 4);
                }
            }
            for (int j = 0; j < 32; j++) hmask[j] = 0;
            int m = 0;
            int hm = 1;
            for (int j = 0; j < 256; j++)
            {
                if (L[j] > 3)
                {
                    hmask[m] |= (byte)hm;
                    L[j] -= 4;
                }
                if (++m == 32) { m = 0; hm <<= 1; }
            }
            for (int j = 0; j < 256; j += 128)
                for (int l = 0; l < 32; l++)
                    qs[j / 4 + l] = (byte)((byte)L[j + l] | ((byte)L[j + l + 32] << 2) | ((byte)L[j + l + 64] << 4) | ((byte)L[j + l + 96] << 6));
        }
    }

    /// <summary>Shared by Q4_K and Q5_K: per 32-element sub-block scale/min search, then 6-bit scale packing; returns levels in L.</summary>
    private static void ScalesMinsK(float* x, byte* y, byte* L, int nmax, float rmin, int nstep)
    {
        byte* Laux = stackalloc byte[32];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        byte* ysc = y + 4;
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[32 * j + l] * x[32 * j + l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[32 * j + l]);
            scales[j] = MakeQkx2Quants(32, nmax, x + 32 * j, weights, L + 32 * j, out mins[j], Laux, rmin, 0.1f, nstep, false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++)
        {
            byte ls = (byte)NearestInt(invScale * scales[j]);
            byte lm = (byte)NearestInt(invMin * mins[j]);
            ls = Math.Min((byte)63, ls);
            lm = Math.Min((byte)63, lm);
            if (j < 4)
            {
                ysc[j] = ls;
                ysc[j + 4] = lm;
            }
            else
            {
                ysc[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                ysc[j - 4] |= (byte)((ls >> 4) << 6);
                ysc[j] |= (byte)((lm >> 4) << 6);
            }
        }
        PutHalf(y, maxScale / 63f);
        PutHalf(y + 2, maxMin / 63f);
        float dAll = BlockDequant.H(y), dminAll = BlockDequant.H(y + 2);
        for (int j = 0; j < 8; j++)
        {
            BlockDequant.ScaleMinK4(j, ysc, out byte sc, out byte m);
            float d = dAll * sc;
            if (d == 0) continue;
            float dm = dminAll * m;
            for (int ii = 0; ii < 32; ii++)
            {
                int l = NearestInt((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte)Math.Max(0, Math.Min(nmax, l));
            }
        }
    }

    public static void Q4_K(float* x, byte* y, int nb)
    {
        byte* L = stackalloc byte[256];
        for (int i = 0; i < nb; i++, x += 256, y += 144)
        {
            ScalesMinsK(x, y, L, 15, -1f, 20);
            byte* q = y + 16;
            for (int j = 0; j < 256; j += 64)
            {
                for (int l = 0; l < 32; l++) q[l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
                q += 32;
            }
        }
    }

    public static void Q5_K(float* x, byte* y, int nb)
    {
        byte* L = stackalloc byte[256];
        for (int i = 0; i < nb; i++, x += 256, y += 176)
        {
            ScalesMinsK(x, y, L, 31, -0.5f, 15);
            byte* qh = y + 16;
            byte* ql = y + 48;
            for (int j = 0; j < 32; j++) qh[j] = 0;
            int m1 = 1, m2 = 2;
            for (int n = 0; n < 256; n += 64)
            {
                for (int j = 0; j < 32; j++)
                {
                    int l1 = L[n + j];
                    if (l1 > 15) { l1 -= 16; qh[j] |= (byte)m1; }
                    int l2 = L[n + j + 32];
                    if (l2 > 15) { l2 -= 16; qh[j] |= (byte)m2; }
                    ql[j] = (byte)(l1 | (l2 << 4));
                }
                m1 <<= 2; m2 <<= 2;
                ql += 32;
            }
        }
    }

    public static void Q6_K(float* x, byte* y, int nb)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];
        for (int i = 0; i < nb; i++, x += 256, y += 210)
        {
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++)
            {
                float scale = MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib, 1);
                scales[ib] = scale;
                float abs = MathF.Abs(scale);
                if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scale; }
            }
            if (maxAbsScale < GroupMaxEps)
            {
                new Span<byte>(y, 210).Clear();
                continue;
            }
            sbyte* ysc = (sbyte*)(y + 192);
            float iscale = -128f / maxScale;
            PutHalf(y + 208, 1 / iscale);
            for (int ib = 0; ib < 16; ib++) ysc[ib] = (sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));
            float dAll = BlockDequant.H(y + 208);
            for (int j = 0; j < 16; j++)
            {
                float d = dAll * ysc[j];
                if (d == 0) continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = NearestInt(x[16 * j + ii] / d);
                    l = Math.Max(-32, Math.Min(31, l));
                    L[16 * j + ii] = (sbyte)(l + 32);
                }
            }
            byte* ql = y;
            byte* qh = y + 128;
            for (int j = 0; j < 256; j += 128)
            {
                for (int l = 0; l < 32; l++)
                {
                    int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                    ql[l] = (byte)(q1 | (q3 << 4));
                    ql[l + 32] = (byte)(q2 | (q4 << 4));
                    qh[l] = (byte)(((byte)L[j + l] >> 4) | (((byte)L[j + l + 32] >> 4) << 2) | (((byte)L[j + l + 64] >> 4) << 4) | (((byte)L[j + l + 96] >> 4) << 6));
                }
                ql += 64;
                qh += 32;
            }
        }
    }
}
