namespace Loom.Tensors.Kernels;

/// <summary>
/// A register-tiled GEMM micro-kernel over packed panels: C[MR x NR] = alpha * Ap * Bp + beta * C, where Ap is an
/// MR x kc panel stored column by column (MR floats per k step) and Bp a kc x NR panel stored row by row.
/// </summary>
/// <remarks>
/// Static abstract members let the blocked driver be specialised per kernel by the JIT (struct generic), so
/// the tile sizes are constants and the kernel call is direct. beta = 0 must not read C.
/// </remarks>
internal unsafe interface IGemmMicroKernel
{
    /// <summary>Rows of the C tile (and of an A panel).</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the C tile (and of a B panel).</summary>
    static abstract int NR { get; }

    /// <summary>Computes one full MR x NR tile from kc steps of the packed panels.</summary>
    static abstract void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta);
}
