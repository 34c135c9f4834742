using System.IO.MemoryMappedFiles;
using Loom.Tensors.Quant;

namespace Loom.Tensors.Tests;

/// <summary>
/// The decode-step plumbing around the kernels: several matrices sharing one quantized x in one pool job, and the
/// huge-page copy of large matrices (including one over a file mapping whose pages are released afterwards). Each must
/// give exactly the bits of a plain <see cref="QuantMatrix.MatMul(ReadOnlySpan{float}, int, Span{float})"/>.
/// </summary>
public class QuantMatMulSharedTests
{
    public static TheoryData<GgmlType, int> Cases()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var type in new[] { GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q4_K, GgmlType.Q6_K })
            foreach (int tokens in new[] { 1, 3, 9, 20, 40 })   // decode, tiles, and from 17/32 tokens on the SGEMM paths
                data.Add(type, tokens);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SharedActivationMatMulEqualsSeparateCalls(GgmlType type, int tokens)
    {
        const int cols = 512;
        var rng = new Random(31 * (int)type + tokens);
        var (w0, _) = Matrix(type, 40, cols, rng);   // a multiple of 8 rows: Q4_0's interleaved copy
        var (w1, _) = Matrix(type, 16, cols, rng);
        var (w2, _) = Matrix(type, 27, cols, rng);   // not a multiple of 8 or of the 16-row groups
        var x = RandomFloats(rng, tokens * cols);

        float[] Single(QuantMatrix w) { var y = new float[tokens * w.Rows]; w.MatMul(x, tokens, y); return y; }
        float[] e0 = Single(w0), e1 = Single(w1), e2 = Single(w2);

        float[] y0 = new float[e0.Length], y1 = new float[e1.Length], y2 = new float[e2.Length];
        QuantMatrix.MatMul(x, tokens, w0, y0, w1, y1, w2, y2);
        Assert.Equal(e0, y0);
        Assert.Equal(e1, y1);
        Assert.Equal(e2, y2);

        Array.Clear(y0);
        Array.Clear(y1);
        QuantMatrix.MatMul(x, tokens, w0, y0, w1, y1);
        Assert.Equal(e0, y0);
        Assert.Equal(e1, y1);
    }

    [Fact]
    public void SharedMatMulFallsBackForMixedTypes()
    {
        const int cols = 256, tokens = 2;
        var rng = new Random(5);
        var (a, _) = Matrix(GgmlType.Q8_0, 24, cols, rng);
        var (b, _) = Matrix(GgmlType.Q6_K, 8, cols, rng);
        var x = RandomFloats(rng, tokens * cols);
        float[] ea = new float[tokens * 24], eb = new float[tokens * 8], ya = new float[ea.Length], yb = new float[eb.Length];
        a.MatMul(x, tokens, ea);
        b.MatMul(x, tokens, eb);
        QuantMatrix.MatMul(x, tokens, a, ya, b, yb);
        Assert.Equal(ea, ya);
        Assert.Equal(eb, yb);
        Assert.Throws<ArgumentException>(() => QuantMatrix.MatMul(x, tokens, a, new float[3], b, yb));
    }

    /// <summary>A matrix over 2 MiB is multiplied from a copy in huge pages where the machine has them; same bits either way.</summary>
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.F16)]
    public void HugePageCopyGivesTheSameResults(GgmlType type)
    {
        const int cols = 2048;
        int rows = (int)(QuantMatrix.ResidentMinBytes / GgmlTypeLayout.RowBytes(type, cols)) + 8;   // just over the threshold, a multiple of 8
        rows = (rows + 7) & ~7;
        var rng = new Random(11 + (int)type);
        var (w, _) = Matrix(type, rows, cols, rng);
        foreach (int tokens in new[] { 1, 5, 33 })
        {
            var x = RandomFloats(rng, tokens * cols);
            var expected = new float[tokens * rows];
            QuantMatrix.NoResidentCopy = true;
            try { w.MatMul(x, tokens, expected); }
            finally { QuantMatrix.NoResidentCopy = false; }
            var got = new float[tokens * rows];
            w.MatMul(x, tokens, got);
            Assert.Equal(expected, got);
        }
    }

    /// <summary>
    /// Over a file mapping (as GGUF weights are), the matrix copies its rows and releases the mapped pages; rows read
    /// afterwards (embeddings, export) come back from the file unchanged, and matmuls keep their results.
    /// </summary>
    [Fact]
    public unsafe void FileMappedMatrixStillReadsItsRowsAfterReleasingThePages()
    {
        const int cols = 2048, rows = 1040, offset = 100;   // 1040 Q8_0 rows of 2048: 2.2 MiB, over the copy threshold
        var rng = new Random(3);
        var (_, encoded) = Matrix(GgmlType.Q8_0, rows, cols, rng);
        var plain = QuantMatrix.FromBytes(GgmlType.Q8_0, rows, cols, encoded);
        string path = Path.Combine(Path.GetTempPath(), $"loom-mapped-{Guid.NewGuid():N}.bin");
        try
        {
            using (var f = File.Create(path))
            {
                f.Write(new byte[offset]);   // rows start off page alignment, as tensors in a GGUF file may
                f.Write(encoded);
            }
            using var mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.CopyOnWrite);
            using var view = mmf.CreateViewAccessor(0, offset + encoded.Length, MemoryMappedFileAccess.CopyOnWrite);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            try
            {
                var mapped = new QuantMatrix(GgmlType.Q8_0, rows, cols, p + view.PointerOffset + offset, view, fileMapped: true);
                var x = RandomFloats(rng, 3 * cols);
                float[] expected = new float[3 * rows], got = new float[3 * rows];
                plain.MatMul(x, 3, expected);
                mapped.MatMul(x, 3, got);
                Assert.Equal(expected, got);
                float[] rowA = new float[cols], rowB = new float[cols];
                foreach (int r in new[] { 0, 1, 517, rows - 1 })
                {
                    plain.DequantizeRow(r, rowA);
                    mapped.DequantizeRow(r, rowB);
                    Assert.Equal(rowA, rowB);
                }
                Array.Clear(got);
                mapped.MatMul(x, 3, got);
                Assert.Equal(expected, got);
            }
            finally { view.SafeMemoryMappedViewHandle.ReleasePointer(); }
        }
        finally { File.Delete(path); }
    }

    private static (QuantMatrix, byte[]) Matrix(GgmlType type, int rows, int cols, Random rng)
    {
        var encoded = new byte[GgmlTypeLayout.RowBytes(type, cols) * rows];
        QuantRows.Quantize(type, RandomFloats(rng, rows * cols), encoded);
        return (QuantMatrix.FromBytes(type, rows, cols, encoded), encoded);
    }

    private static float[] RandomFloats(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
