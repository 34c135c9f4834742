using System.Numerics.Tensors;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Single-precision matrix multiply, row-major: C = alpha * op(A) * op(B) + beta * C, with op(X) = X or X^T.
/// A is (M,K) (or (K,M) when transposed) with leading dimension lda; B is (K,N) (or (N,K)); C is (M,N).
/// </summary>
public static unsafe class Gemm
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (m <= 0 || n <= 0) return;
        ComputePool.For(m, new RowBody
        {
            TransA = transA, TransB = transB, N = n, K = k, Alpha = alpha, A = a, Lda = lda, B = b, Ldb = ldb,
            Beta = beta, C = c, Ldc = ldc,
        });
    }

    /// <summary>Batched Sgemm with fixed element strides between consecutive matrices.</summary>
    public static void SgemmBatched(bool transA, bool transB, int batch, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB, float beta, float* c, int ldc, long strideC)
    {
        for (int i = 0; i < batch; i++)
            Sgemm(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC, ldc);
    }

    private struct RowBody : IRangeBody
    {
        public bool TransA, TransB;
        public int N, K, Lda, Ldb, Ldc;
        public float Alpha, Beta;
        public float* A, B, C;

        public readonly void Run(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                var crow = new Span<float>(C + (long)i * Ldc, N);
                if (Beta == 0f) crow.Clear();
                else if (Beta != 1f) TensorPrimitives.Multiply(crow, Beta, crow);
                for (int p = 0; p < K; p++)
                {
                    float av = Alpha * (TransA ? A[(long)p * Lda + i] : A[(long)i * Lda + p]);
                    if (!TransB)
                    {
                        var brow = new ReadOnlySpan<float>(B + (long)p * Ldb, N);
                        TensorPrimitives.MultiplyAdd(brow, av, crow, crow);
                    }
                    else
                    {
                        for (int j = 0; j < N; j++) crow[j] += av * B[(long)j * Ldb + p];
                    }
                }
            }
        }
    }
}
