using System.Numerics.Tensors;
using Loom.Tensors.Kernels;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    /// <summary>2-D convolution (cross-correlation, as PyTorch), square stride and padding; see the tuple overload.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0, int groups = 1) =>
        Conv2d(x, weight, bias, (stride, stride), (padding, padding), groups);

    /// <summary>
    /// 2-D convolution of x (N, Cin, H, W) with weight (Cout, Cin/groups, KH, KW) and optional bias (Cout), zero
    /// padding, dilation 1. Lowered to one GEMM per image and group over an im2col matrix.
    /// Returns (N, Cout, OH, OW) with OH = (H + 2 * padding - KH) / stride + 1.
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, int groups = 1)
    {
        var (n, geo, cout) = CheckConv(x, weight, bias, stride, padding, groups, "Conv2d");
        int cog = cout / groups, k = geo.ColRows, l = geo.ColCols;
        var y = Tensor.Empty(n, cout, geo.OutH, geo.OutW);
        using var xc = F32Contiguous(x);
        using var wc = F32Contiguous(weight);
        using var col = Tensor.Empty(k, l);
        long imgIn = (long)x.Shape[1] * geo.H * geo.W, grpIn = (long)geo.C * geo.H * geo.W;
        for (int i = 0; i < n; i++)
            for (int g = 0; g < groups; g++)
            {
                Im2Col.Gather(geo, xc.Data + i * imgIn + g * grpIn, col.Data);
                Gemm.Sgemm(false, false, cog, l, k, 1f, wc.Data + (long)g * cog * k, k, col.Data, l, 0f, y.Data + ((long)i * cout + g * cog) * l, l);
            }
        if (bias != null) AddChannelBias(y, bias);
        return y;
    }

    /// <summary>
    /// Gradients of <see cref="Conv2d(Tensor, Tensor, Tensor?, ValueTuple{int, int}, ValueTuple{int, int}, int)"/>
    /// for the inputs whose flags are set (the others come back null). gradBias needs only the output gradient.
    /// </summary>
    public static void Conv2dBackward(Tensor x, Tensor weight, Tensor gradOutput, (int H, int W) stride, (int H, int W) padding, int groups,
        bool needInput, bool needWeight, bool needBias, out Tensor? gradInput, out Tensor? gradWeight, out Tensor? gradBias)
    {
        var (n, geo, cout) = CheckConv(x, weight, null, stride, padding, groups, "Conv2dBackward");
        if (!Tensor.SameShape(gradOutput.Shape, [n, cout, geo.OutH, geo.OutW]))
            throw new ShapeMismatchException($"Conv2dBackward: output gradient {Tensor.ShapeString(gradOutput.Shape)} does not match input {Tensor.ShapeString(x.Shape)} and weight {Tensor.ShapeString(weight.Shape)}");
        int cog = cout / groups, k = geo.ColRows, l = geo.ColCols;
        using var gc = F32Contiguous(gradOutput);
        gradBias = needBias ? ChannelSums(gc) : null;
        gradInput = null;
        gradWeight = null;
        if (!needInput && !needWeight) return;
        using var xc = F32Contiguous(x);
        using var wc = F32Contiguous(weight);
        using var col = Tensor.Empty(k, l);
        long imgIn = (long)x.Shape[1] * geo.H * geo.W, grpIn = (long)geo.C * geo.H * geo.W;
        if (needInput) gradInput = Tensor.Zeros(x.Shape);
        if (needWeight) gradWeight = Tensor.Zeros(weight.Shape);
        for (int i = 0; i < n; i++)
            for (int g = 0; g < groups; g++)
            {
                float* go = gc.Data + ((long)i * cout + g * cog) * l;
                float* wg = wc.Data + (long)g * cog * k;
                if (needWeight)
                {
                    Im2Col.Gather(geo, xc.Data + i * imgIn + g * grpIn, col.Data);
                    Gemm.Sgemm(false, true, cog, k, l, 1f, go, l, col.Data, l, 1f, gradWeight!.Data + (long)g * cog * k, k);
                }
                if (needInput)
                {
                    Gemm.Sgemm(true, false, k, l, cog, 1f, wg, k, go, l, 0f, col.Data, l);
                    Im2Col.ScatterAdd(geo, col.Data, gradInput!.Data + i * imgIn + g * grpIn);
                }
            }
    }

    /// <summary>Transposed 2-D convolution with square stride, padding and output padding; see the tuple overload.</summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0, int outputPadding = 0, int groups = 1) =>
        ConvTranspose2d(x, weight, bias, (stride, stride), (padding, padding), (outputPadding, outputPadding), groups);

    /// <summary>
    /// Transposed convolution with PyTorch's ConvTranspose2d semantics: x (N, Cin, H, W), weight (Cin, Cout/groups,
    /// KH, KW), optional bias (Cout); output (N, Cout, (H-1)*stride - 2*padding + KH + outputPadding, ...). It is the
    /// input-gradient of a convolution: a GEMM per image and group followed by col2im.
    /// </summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) outputPadding, int groups = 1)
    {
        var (n, geo, cin, cout) = CheckConvT(x, weight, bias, stride, padding, outputPadding, groups, "ConvTranspose2d");
        int cig = cin / groups, k = geo.ColRows, l = geo.ColCols;
        var y = Tensor.Zeros(n, cout, geo.H, geo.W);
        using var xc = F32Contiguous(x);
        using var wc = F32Contiguous(weight);
        using var col = Tensor.Empty(k, l);
        long imgOut = (long)cout * geo.H * geo.W, grpOut = (long)geo.C * geo.H * geo.W;
        for (int i = 0; i < n; i++)
            for (int g = 0; g < groups; g++)
            {
                Gemm.Sgemm(true, false, k, l, cig, 1f, wc.Data + (long)g * cig * k, k, xc.Data + ((long)i * cin + g * cig) * l, l, 0f, col.Data, l);
                Im2Col.ScatterAdd(geo, col.Data, y.Data + i * imgOut + g * grpOut);
            }
        if (bias != null) AddChannelBias(y, bias);
        return y;
    }

    /// <summary>Gradients of <see cref="ConvTranspose2d(Tensor, Tensor, Tensor?, ValueTuple{int, int}, ValueTuple{int, int}, ValueTuple{int, int}, int)"/>.</summary>
    public static void ConvTranspose2dBackward(Tensor x, Tensor weight, Tensor gradOutput, (int H, int W) stride, (int H, int W) padding, (int H, int W) outputPadding, int groups,
        bool needInput, bool needWeight, bool needBias, out Tensor? gradInput, out Tensor? gradWeight, out Tensor? gradBias)
    {
        var (n, geo, cin, cout) = CheckConvT(x, weight, null, stride, padding, outputPadding, groups, "ConvTranspose2dBackward");
        if (!Tensor.SameShape(gradOutput.Shape, [n, cout, geo.H, geo.W]))
            throw new ShapeMismatchException($"ConvTranspose2dBackward: output gradient {Tensor.ShapeString(gradOutput.Shape)} does not match input {Tensor.ShapeString(x.Shape)} and weight {Tensor.ShapeString(weight.Shape)}");
        int cig = cin / groups, k = geo.ColRows, l = geo.ColCols;
        using var gc = F32Contiguous(gradOutput);
        gradBias = needBias ? ChannelSums(gc) : null;
        gradInput = null;
        gradWeight = null;
        if (!needInput && !needWeight) return;
        using var xc = F32Contiguous(x);
        using var wc = F32Contiguous(weight);
        using var col = Tensor.Empty(k, l);
        long imgOut = (long)cout * geo.H * geo.W, grpOut = (long)geo.C * geo.H * geo.W;
        if (needInput) gradInput = Tensor.Empty(x.Shape);
        if (needWeight) gradWeight = Tensor.Zeros(weight.Shape);
        for (int i = 0; i < n; i++)
            for (int g = 0; g < groups; g++)
            {
                Im2Col.Gather(geo, gc.Data + i * imgOut + g * grpOut, col.Data);
                long xo = ((long)i * cin + g * cig) * l;
                float* wg = wc.Data + (long)g * cig * k;
                if (needInput) Gemm.Sgemm(false, false, cig, l, k, 1f, wg, k, col.Data, l, 0f, gradInput!.Data + xo, l);
                if (needWeight) Gemm.Sgemm(false, true, cig, k, l, 1f, xc.Data + xo, l, col.Data, l, 1f, gradWeight!.Data + (long)g * cig * k, k);
            }
    }

    private static (int N, ConvGeometry Geo, int Cout) CheckConv(Tensor x, Tensor w, Tensor? bias, (int H, int W) stride, (int H, int W) padding, int groups, string op)
    {
        string Shapes() => $"input {Tensor.ShapeString(x.Shape)}, weight {Tensor.ShapeString(w.Shape)}{(bias != null ? $", bias {Tensor.ShapeString(bias.Shape)}" : "")}";
        if (groups < 1 || stride.H < 1 || stride.W < 1 || padding.H < 0 || padding.W < 0)
            throw new ArgumentException($"{op}: invalid stride {stride}, padding {padding} or groups {groups}");
        if (x.Rank != 4 || w.Rank != 4) throw new ShapeMismatchException($"{op} needs input (N, C, H, W) and weight (Cout, Cin/groups, KH, KW): {Shapes()}");
        int cin = x.Shape[1], cout = w.Shape[0];
        if (cin % groups != 0 || cout % groups != 0 || w.Shape[1] != cin / groups)
            throw new ShapeMismatchException($"{op} with {groups} group(s): channels do not match: {Shapes()}");
        if (bias != null && !Tensor.SameShape(bias.Shape, [cout])) throw new ShapeMismatchException($"{op}: bias must be ({cout}): {Shapes()}");
        var geo = new ConvGeometry(cin / groups, x.Shape[2], x.Shape[3], w.Shape[2], w.Shape[3], stride.H, stride.W, padding.H, padding.W);
        if (geo.H + 2 * padding.H < geo.KH || geo.W + 2 * padding.W < geo.KW)
            throw new ShapeMismatchException($"{op}: kernel larger than the padded input: {Shapes()}, padding {padding}");
        return (x.Shape[0], geo, cout);
    }

    /// <summary>Checks a transposed convolution; the geometry is that of the forward convolution it transposes (from output to input).</summary>
    private static (int N, ConvGeometry Geo, int Cin, int Cout) CheckConvT(Tensor x, Tensor w, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) outPad, int groups, string op)
    {
        string Shapes() => $"input {Tensor.ShapeString(x.Shape)}, weight {Tensor.ShapeString(w.Shape)}{(bias != null ? $", bias {Tensor.ShapeString(bias.Shape)}" : "")}";
        if (groups < 1 || stride.H < 1 || stride.W < 1 || padding.H < 0 || padding.W < 0)
            throw new ArgumentException($"{op}: invalid stride {stride}, padding {padding} or groups {groups}");
        if (outPad.H < 0 || outPad.W < 0 || outPad.H >= stride.H || outPad.W >= stride.W)
            throw new ArgumentException($"{op}: output padding {outPad} must be smaller than the stride {stride}");
        if (x.Rank != 4 || w.Rank != 4) throw new ShapeMismatchException($"{op} needs input (N, Cin, H, W) and weight (Cin, Cout/groups, KH, KW): {Shapes()}");
        int cin = x.Shape[1];
        if (w.Shape[0] != cin || cin % groups != 0)
            throw new ShapeMismatchException($"{op} with {groups} group(s): channels do not match: {Shapes()}");
        int cout = w.Shape[1] * groups;
        if (bias != null && !Tensor.SameShape(bias.Shape, [cout])) throw new ShapeMismatchException($"{op}: bias must be ({cout}): {Shapes()}");
        int oh = (x.Shape[2] - 1) * stride.H - 2 * padding.H + w.Shape[2] + outPad.H;
        int ow = (x.Shape[3] - 1) * stride.W - 2 * padding.W + w.Shape[3] + outPad.W;
        if (oh <= 0 || ow <= 0) throw new ShapeMismatchException($"{op}: output would be empty ({oh} x {ow}): {Shapes()}, padding {padding}");
        var geo = new ConvGeometry(w.Shape[1], oh, ow, w.Shape[2], w.Shape[3], stride.H, stride.W, padding.H, padding.W);
        return (x.Shape[0], geo, cin, cout);
    }

    /// <summary>y[n, c, ...] += bias[c] for y (N, C, ...) contiguous.</summary>
    private static void AddChannelBias(Tensor y, Tensor bias)
    {
        using var bc = F32Contiguous(bias);
        int n = y.Shape[0], c = y.Shape[1];
        int inner = (int)(y.Length / ((long)n * c));
        float* p = y.Data;
        for (int i = 0; i < n * c; i++)
        {
            var row = new Span<float>(p + (long)i * inner, inner);
            TensorPrimitives.Add(row, bc.Data[i % c], row);
        }
    }

    /// <summary>Sum of g (N, C, ...) over every dimension but C: the gradient of a per-channel bias.</summary>
    private static Tensor ChannelSums(Tensor g)
    {
        int n = g.Shape[0], c = g.Shape[1];
        int inner = (int)(g.Length / ((long)n * c));
        var r = Tensor.Empty(c);
        float* p = g.Data;
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += TensorPrimitives.Sum(new ReadOnlySpan<float>(p + ((long)i * c + ch) * inner, inner));
            r.Data[ch] = (float)s;
        }
        return r;
    }
}
