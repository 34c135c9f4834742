using System.Numerics.Tensors;

namespace Loom.Tensors.Kernels;

/// <summary>Nearest-neighbour upsampling and average pooling over (planes, H, W) images, forward and backward.</summary>
public static unsafe class Resample
{
    /// <summary>y (planes, H*sh, W*sw) from x (planes, H, W): each pixel becomes an sh x sw block.</summary>
    public static void UpsampleNearest(float* x, float* y, int planes, int h, int w, int sh, int sw)
    {
        int rows = planes * h;
        ComputePool.For(rows, new UpBody { X = x, Y = y, W = w, SH = sh, SW = sw }, (long)rows * w * sh * sw < Ops.ParallelThreshold ? 1 : 0);
    }

    /// <summary>dx (planes, H, W) = sums of the sh x sw blocks of dy.</summary>
    public static void UpsampleNearestBackward(float* dy, float* dx, int planes, int h, int w, int sh, int sw)
    {
        int rows = planes * h;
        ComputePool.For(rows, new UpBackBody { DY = dy, DX = dx, W = w, SH = sh, SW = sw }, (long)rows * w * sh * sw < Ops.ParallelThreshold ? 1 : 0);
    }

    /// <summary>Average pooling with zero padding counted in the divisor (PyTorch's count_include_pad=True).</summary>
    public static void AvgPool(float* x, float* y, int planes, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, bool backward)
    {
        ComputePool.For(planes, new PoolBody { X = x, Y = y, H = h, W = w, KH = kh, KW = kw, SH = sh, SW = sw, PH = ph, PW = pw, Backward = backward },
            (long)planes * h * w < Ops.ParallelThreshold ? 1 : 0);
    }

    private struct UpBody : IRangeBody
    {
        public float* X, Y;
        public int W, SH, SW;

        public readonly void Run(int start, int end)
        {
            int ow = W * SW;
            for (int row = start; row < end; row++)
            {
                float* src = X + (long)row * W;
                float* dst = Y + (long)row * SH * ow;
                for (int j = 0; j < W; j++) new Span<float>(dst + j * SW, SW).Fill(src[j]);
                for (int r = 1; r < SH; r++) new ReadOnlySpan<float>(dst, ow).CopyTo(new Span<float>(dst + (long)r * ow, ow));
            }
        }
    }

    private struct UpBackBody : IRangeBody
    {
        public float* DY, DX;
        public int W, SH, SW;

        public readonly void Run(int start, int end)
        {
            int ow = W * SW;
            for (int row = start; row < end; row++)
            {
                float* src = DY + (long)row * SH * ow;
                float* dst = DX + (long)row * W;
                for (int j = 0; j < W; j++)
                {
                    float s = 0;
                    for (int r = 0; r < SH; r++) s += TensorPrimitives.Sum(new ReadOnlySpan<float>(src + (long)r * ow + j * SW, SW));
                    dst[j] = s;
                }
            }
        }
    }

    private struct PoolBody : IRangeBody
    {
        public float* X, Y;
        public int H, W, KH, KW, SH, SW, PH, PW;
        public bool Backward;

        public readonly void Run(int start, int end)
        {
            int oh = (H + 2 * PH - KH) / SH + 1, ow = (W + 2 * PW - KW) / SW + 1;
            float inv = 1f / (KH * KW);
            for (int plane = start; plane < end; plane++)
            {
                // Forward: X is the input, Y the output. Backward: X is dx (written), Y is dy.
                float* img = X + (long)plane * H * W;
                float* outp = Y + (long)plane * oh * ow;
                if (Backward) new Span<float>(img, H * W).Clear();
                for (int oy = 0; oy < oh; oy++)
                {
                    int y0 = Math.Max(oy * SH - PH, 0), y1 = Math.Min(oy * SH - PH + KH, H);
                    for (int ox = 0; ox < ow; ox++)
                    {
                        int x0 = Math.Max(ox * SW - PW, 0), x1 = Math.Min(ox * SW - PW + KW, W);
                        if (Backward)
                        {
                            float gv = outp[oy * ow + ox] * inv;
                            for (int iy = y0; iy < y1; iy++)
                            {
                                var r = new Span<float>(img + (long)iy * W + x0, x1 - x0);
                                TensorPrimitives.Add(r, gv, r);
                            }
                        }
                        else
                        {
                            float s = 0;
                            for (int iy = y0; iy < y1; iy++) s += TensorPrimitives.Sum(new ReadOnlySpan<float>(img + (long)iy * W + x0, x1 - x0));
                            outp[oy * ow + ox] = s * inv;
                        }
                    }
                }
            }
        }
    }
}
