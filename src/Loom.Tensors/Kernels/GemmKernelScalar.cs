using System.Runtime.CompilerServices;

namespace Loom.Tensors.Kernels;

/// <summary>Portable GEMM micro-kernel for machines without usable SIMD: a 4x4 tile in 16 scalar locals.</summary>
/// <remarks>16 accumulators fit the 16+ floating-point registers of x64 and arm64, so nothing spills.</remarks>
internal readonly unsafe struct GemmKernelScalar : IGemmMicroKernel
{
    public static int MR => 4;
    public static int NR => 4;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        float c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        float c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            a += 4;
            b += 4;
        }
        Store(c, alpha, beta, c00, c01, c02, c03);
        Store(c + ldc, alpha, beta, c10, c11, c12, c13);
        Store(c + 2 * ldc, alpha, beta, c20, c21, c22, c23);
        Store(c + 3 * ldc, alpha, beta, c30, c31, c32, c33);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* r, float alpha, float beta, float x0, float x1, float x2, float x3)
    {
        if (beta == 0f)
        {
            r[0] = alpha * x0; r[1] = alpha * x1; r[2] = alpha * x2; r[3] = alpha * x3;
        }
        else
        {
            r[0] = alpha * x0 + beta * r[0]; r[1] = alpha * x1 + beta * r[1];
            r[2] = alpha * x2 + beta * r[2]; r[3] = alpha * x3 + beta * r[3];
        }
    }
}
