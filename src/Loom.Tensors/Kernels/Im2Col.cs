namespace Loom.Tensors.Kernels;

/// <summary>Geometry of a 2-D convolution window sweep: image (C, H, W), kernel (KH, KW), stride, zero padding.</summary>
public readonly record struct ConvGeometry(int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW)
{
    public int OutH => (H + 2 * PH - KH) / SH + 1;
    public int OutW => (W + 2 * PW - KW) / SW + 1;

    /// <summary>Rows of the column matrix: one per (channel, kernel row, kernel column).</summary>
    public int ColRows => C * KH * KW;

    public int ColCols => OutH * OutW;
}

/// <summary>
/// Lowers convolution to GEMM: im2col gathers every window of an image into a (C*KH*KW, OH*OW) matrix and
/// col2im scatters-adds such a matrix back (the adjoint), which gives the input gradient of a convolution and
/// the forward of a transposed convolution.
/// </summary>
public static unsafe class Im2Col
{
    public static void Gather(in ConvGeometry g, float* image, float* col)
    {
        long work = (long)g.ColRows * g.ColCols;
        ComputePool.For(g.ColRows, new GatherBody { G = g, Image = image, Col = col }, work < Ops.ParallelThreshold ? 1 : 0);
    }

    /// <summary>image += col2im(col). Parallel over channels, so no two threads write the same pixel.</summary>
    public static void ScatterAdd(in ConvGeometry g, float* col, float* image)
    {
        long work = (long)g.ColRows * g.ColCols;
        ComputePool.For(g.C, new ScatterBody { G = g, Image = image, Col = col }, work < Ops.ParallelThreshold ? 1 : 0);
    }

    private struct GatherBody : IRangeBody
    {
        public ConvGeometry G;
        public float* Image, Col;

        public readonly void Run(int start, int end)
        {
            int oh = G.OutH, ow = G.OutW;
            for (int row = start; row < end; row++)
            {
                int kx = row % G.KW, ky = row / G.KW % G.KH, c = row / (G.KW * G.KH);
                float* src = Image + (long)c * G.H * G.W;
                float* dst = Col + (long)row * oh * ow;
                for (int oy = 0; oy < oh; oy++)
                {
                    int iy = oy * G.SH - G.PH + ky;
                    float* d = dst + oy * ow;
                    if ((uint)iy >= (uint)G.H) { new Span<float>(d, ow).Clear(); continue; }
                    float* s = src + (long)iy * G.W;
                    if (G.SW == 1)
                    {
                        // Contiguous run of valid columns, zeros either side.
                        int ix0 = kx - G.PW;
                        int lo = Math.Clamp(-ix0, 0, ow), hi = Math.Clamp(G.W - ix0, lo, ow);
                        new Span<float>(d, lo).Clear();
                        new ReadOnlySpan<float>(s + ix0 + lo, hi - lo).CopyTo(new Span<float>(d + lo, hi - lo));
                        new Span<float>(d + hi, ow - hi).Clear();
                    }
                    else
                    {
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int ix = ox * G.SW - G.PW + kx;
                            d[ox] = (uint)ix < (uint)G.W ? s[ix] : 0f;
                        }
                    }
                }
            }
        }
    }

    private struct ScatterBody : IRangeBody
    {
        public ConvGeometry G;
        public float* Image, Col;

        public readonly void Run(int start, int end)
        {
            int oh = G.OutH, ow = G.OutW;
            for (int c = start; c < end; c++)
            {
                float* img = Image + (long)c * G.H * G.W;
                for (int ky = 0; ky < G.KH; ky++)
                    for (int kx = 0; kx < G.KW; kx++)
                    {
                        float* src = Col + ((long)(c * G.KH + ky) * G.KW + kx) * oh * ow;
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int iy = oy * G.SH - G.PH + ky;
                            if ((uint)iy >= (uint)G.H) continue;
                            float* d = img + (long)iy * G.W;
                            float* s = src + oy * ow;
                            for (int ox = 0; ox < ow; ox++)
                            {
                                int ix = ox * G.SW - G.PW + kx;
                                if ((uint)ix < (uint)G.W) d[ix] += s[ox];
                            }
                        }
                    }
            }
        }
    }
}
