using Loom.Tensors.Kernels;

namespace Loom.Tensors;

public static unsafe partial class Ops
{
    /// <summary>
    /// Matrix product of the last two dimensions: a (..., M, K) times b (..., K, N) or b (K, N), with
    /// optional transposes of either operand's last two dimensions. Batch dimensions must match or b is 2-D.
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (a.Rank < 2 || b.Rank < 2) throw new ShapeMismatchException($"MatMul needs matrices, got {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)}");
        int m = transA ? a.Shape[^1] : a.Shape[^2];
        int ka = transA ? a.Shape[^2] : a.Shape[^1];
        int kb = transB ? b.Shape[^1] : b.Shape[^2];
        int n = transB ? b.Shape[^2] : b.Shape[^1];
        if (ka != kb) throw new ShapeMismatchException($"MatMul: inner dimensions differ: {Tensor.ShapeString(a.Shape)}{(transA ? "^T" : "")} x {Tensor.ShapeString(b.Shape)}{(transB ? "^T" : "")}");
        long batchA = a.Length / ((long)a.Shape[^1] * a.Shape[^2]);
        long batchB = b.Length / ((long)b.Shape[^1] * b.Shape[^2]);
        if (b.Rank > 2 && (a.Rank != b.Rank || !a.Shape.AsSpan(0, a.Rank - 2).SequenceEqual(b.Shape.AsSpan(0, b.Rank - 2))))
            throw new ShapeMismatchException($"MatMul: batch dimensions differ: {Tensor.ShapeString(a.Shape)} x {Tensor.ShapeString(b.Shape)}");
        var outShape = (int[])a.Shape.Clone();
        outShape[^2] = m;
        outShape[^1] = n;
        var c = Tensor.Empty(outShape);
        using var ac = F32Contiguous(a);
        using var bc = F32Contiguous(b);
        int lda = ac.Shape[^1], ldb = bc.Shape[^1];
        if (b.Rank == 2 && !transA)
        {
            // Fold the batch into M: one big GEMM is faster than many small ones.
            Gemm.Sgemm(false, transB, (int)(batchA * m), n, ka, 1f, ac.Data, lda, bc.Data, ldb, 0f, c.Data, n);
        }
        else
        {
            long sa = (long)a.Shape[^1] * a.Shape[^2];
            long sb = batchB == 1 ? 0 : (long)b.Shape[^1] * b.Shape[^2];
            Gemm.SgemmBatched(transA, transB, (int)batchA, m, n, ka, 1f, ac.Data, lda, sa, bc.Data, ldb, sb, 0f, c.Data, n, (long)m * n);
        }
        return c;
    }
}
