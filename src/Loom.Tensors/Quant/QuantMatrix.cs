using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loom.Tensors.Quant;

/// <summary>
/// A weight matrix W of shape (Rows, Cols) stored row-major in a ggml type (F32, F16, BF16 or a block quant),
/// usually memory-mapped from a GGUF file. Multiplies activations as y = x · Wᵀ, the shape of a Linear layer.
/// </summary>
public sealed unsafe class QuantMatrix
{
    /// <summary>Rows of W per parallel work item: small enough to balance two threads, large enough that a token's activation row is reused from L1.</summary>
    private const int RowGroup = 16;

    private readonly byte* _data;
    private readonly object? _owner;   // keeps the mapping (or array) that holds the bytes alive
    private Q4_0x8.Buffer? _packed;     // Q4_0 / Q4_K rows interleaved by eight for the AVX2 kernels, made on first use
    private ResidentCopy? _resident;   // the rows copied into huge pages on first use (other types)
    private readonly bool _fileMapped;   // _data is a read-only file mapping whose pages may be released after a copy
    private readonly object _packLock = new();

    /// <summary>Whether Q4_0 and Q4_K matrices are repacked eight rows at a time on first use (LOOM_REPACK=0 turns it off, for comparisons).</summary>
    internal static bool RepackQ4_0 = Environment.GetEnvironmentVariable("LOOM_REPACK") != "0";

    /// <summary>Wraps <paramref name="rows"/> rows of <paramref name="cols"/> elements at <paramref name="data"/>; <paramref name="owner"/> keeps the memory alive.
    /// <paramref name="fileMapped"/> says the bytes are a read-only file mapping, whose pages may be unmapped once the
    /// matmuls read a copy (they are read back from the file if rows are needed again).</summary>
    public QuantMatrix(GgmlType type, int rows, int cols, byte* data, object? owner, bool fileMapped = false)
    {
        _fileMapped = fileMapped;
        Type = type;
        Rows = rows;
        Cols = cols;
        RowBytes = GgmlTypeLayout.RowBytes(type, cols);
        _data = data;
        _owner = owner;
    }

    /// <summary>
    /// The rows are also read one by one (a token embedding, which the output may share): never repacked, as llama.cpp
    /// keeps get_rows tensors in their file layout and so multiplies them with its plain row kernels.
    /// </summary>
    public bool KeepRowLayout { get; set; }

    /// <summary>Tests: on this thread, never use the interleaved Q4_0 / Q4_K copy.</summary>
    [ThreadStatic] internal static bool NoRepack;

    /// <summary>Tests: on this thread, multiply through the decode-to-f32 path that machines without AVX2 take.</summary>
    [ThreadStatic] internal static bool ForceDecodePath;

    /// <summary>Wraps a managed copy of encoded rows (tests, tools).</summary>
    public static QuantMatrix FromBytes(GgmlType type, int rows, int cols, byte[] encoded)
    {
        long need = GgmlTypeLayout.RowBytes(type, cols) * rows;
        if (encoded.Length < need) throw new ArgumentException($"{encoded.Length} bytes hold fewer than {rows} rows of {cols} {type} elements ({need} bytes)");
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(encoded, System.Runtime.InteropServices.GCHandleType.Pinned);
        return new QuantMatrix(type, rows, cols, (byte*)handle.AddrOfPinnedObject(), new PinnedArray(handle));
    }

    /// <summary>Frees a pinned array when the matrix is collected.</summary>
    private sealed class PinnedArray(System.Runtime.InteropServices.GCHandle handle)
    {
        ~PinnedArray() { handle.Free(); }
    }

    public GgmlType Type { get; }
    /// <summary>Output features (N).</summary>
    public int Rows { get; }
    /// <summary>Input features (K).</summary>
    public int Cols { get; }
    public long RowBytes { get; }

    /// <summary>
    /// The interleaved copy of a Q4_0 or Q4_K matrix (rows a multiple of 8, AVX2), made on first use; null for other
    /// matrices. Like llama.cpp's repacking it costs one pass over the weights once, after which the mapped file's
    /// pages are no longer touched by matmuls (rows for embeddings and export still read the original).
    /// </summary>
    private byte* Packed()
    {
        if (!PacksRows || NoRepack || ForceDecodePath) return null;
        var packed = Volatile.Read(ref _packed);
        if (packed == null)
        {
            lock (_packLock)
            {
                packed = _packed;
                if (packed == null)
                {
                    bool k = Type == GgmlType.Q4_K;
                    packed = new Q4_0x8.Buffer(k ? Q4_Kx8.Bytes(Rows, Cols / 256) : RowBytes * Rows);
                    var body = new RepackBody { Src = _data, Dst = packed.Data, Nb = Cols / (k ? 256 : 32), RowBytes = RowBytes, K = k };
                    ComputePool.For(Rows / 8, body);
                    if (_fileMapped) LargePages.ReleaseMappedPages(_data, RowBytes * Rows);
                    Volatile.Write(ref _packed, packed);
                }
            }
        }
        return packed.Data;
    }

    /// <summary>Whether matmuls read an interleaved copy (where this thread's test switches allow).</summary>
    private bool PacksRows => Type is GgmlType.Q4_0 or GgmlType.Q4_K && Rows % 8 == 0 && RepackQ4_0 && !KeepRowLayout && QuantDot.HasFusedKernel(Type);

    /// <summary>Matrices from this size on are copied into huge pages (<see cref="LargePages"/>) on first use.</summary>
    internal const long ResidentMinBytes = LargePages.PageBytes;

    /// <summary>Tests: on this thread, read the original bytes even where a huge-page copy would be made.</summary>
    [ThreadStatic] internal static bool NoResidentCopy;

    /// <summary>
    /// The bytes the row kernels and the SGEMM read: a copy in huge pages, made on first use, for matrices of at least
    /// <see cref="ResidentMinBytes"/> where the machine has transparent huge pages; otherwise the original bytes.
    /// The copy reads the weights once, as the first matmul would; a mapped file's pages are then released.
    /// </summary>
    private byte* Weights()
    {
        long bytes = RowBytes * Rows;
        if (!LargePages.Available || bytes < ResidentMinBytes || NoResidentCopy) return _data;
        var copy = Volatile.Read(ref _resident);
        if (copy == null)
        {
            lock (_packLock)
            {
                copy = _resident;
                if (copy == null)
                {
                    copy = new ResidentCopy(LargePages.Allocate(bytes));
                    ComputePool.For((int)((bytes + CopyChunk - 1) / CopyChunk), new CopyBody { Src = _data, Dst = copy.Data, Bytes = bytes });
                    if (_fileMapped) LargePages.ReleaseMappedPages(_data, bytes);
                    Volatile.Write(ref _resident, copy);
                }
            }
        }
        return copy.Data;
    }

    private const long CopyChunk = 1L << 20;

    private struct CopyBody : IRangeBody
    {
        public byte* Src, Dst;
        public long Bytes;

        public readonly void Run(int start, int end)
        {
            long from = start * CopyChunk, to = Math.Min(Bytes, end * CopyChunk);
            Buffer.MemoryCopy(Src + from, Dst + from, to - from, to - from);
        }
    }

    /// <summary>Owns a <see cref="LargePages"/> allocation for the matrix's lifetime.</summary>
    private sealed class ResidentCopy(byte* data)
    {
        public readonly byte* Data = data;

        ~ResidentCopy() { LargePages.Free(Data); }
    }

    private struct RepackBody : IRangeBody
    {
        public byte* Src, Dst;
        public int Nb;
        public long RowBytes;
        public bool K;   // Q4_K, else Q4_0

        public readonly void Run(int start, int end)
        {
            if (K) Q4_Kx8.Repack(Src + start * 8 * RowBytes, (end - start) * 8, Nb, Dst + start * (long)Nb * Q4_Kx8.BlockBytes);
            else Q4_0x8.Repack(Src + start * 8 * RowBytes, (end - start) * 8, Nb, Dst + start * 8 * RowBytes);
        }
    }

    /// <summary>The encoded bytes of one row.</summary>
    public ReadOnlySpan<byte> Row(int r) => new(_data + r * RowBytes, (int)RowBytes);

    /// <summary>Decodes row <paramref name="r"/> into <paramref name="dst"/> (length Cols).</summary>
    public void DequantizeRow(int r, Span<float> dst) => QuantRows.Dequantize(Type, Row(r), dst[..Cols]);

    /// <summary>
    /// y (T, Rows) = x (T, Cols) · Wᵀ for <paramref name="tokens"/> rows of x. As in llama.cpp, x is first quantized
    /// per row to the weight type's activation type (Q8_0, Q8_1 or Q8_K; rounded to f16/bf16 for those weights),
    /// then each output is an integer dot product of codes. Rows of W are split across <see cref="ComputePool"/>.
    /// </summary>
    public void MatMul(ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        CheckShapes(x, tokens, y);
        if (tokens == 0) return;
        if (UsesGemm(tokens))
        {
            MatMulGemm(x, tokens, y);
            return;
        }
        MatMulRows(x, tokens, this, y, null, default, null, default);
    }

    /// <summary>
    /// y_i (T, Rows_i) = x (T, Cols) · W_iᵀ for two or three matrices that read the same x (Q, K and V; gate and up).
    /// Where each would take the row kernels (decode and small batches) and they share a type and width, x is
    /// quantized once and one pool job covers all their rows, so a decode step waits at one barrier instead of three.
    /// Results are those of separate <see cref="MatMul"/> calls, bit for bit.
    /// </summary>
    public static void MatMul(ReadOnlySpan<float> x, int tokens, QuantMatrix w0, Span<float> y0, QuantMatrix w1, Span<float> y1,
        QuantMatrix? w2 = null, Span<float> y2 = default)
    {
        // One path for all: a repacked Q4_K keeps its integer kernels at prefill sizes, where one that is not takes the SGEMM.
        bool fused = w0.Fused(tokens);
        bool shared = w1.Type == w0.Type && w1.Cols == w0.Cols && w1.Fused(tokens) == fused
            && (w2 == null || (w2.Type == w0.Type && w2.Cols == w0.Cols && w2.Fused(tokens) == fused));
        if (!shared || tokens <= 0 || w0.UsesGemm(tokens))
        {
            w0.MatMul(x, tokens, y0);
            w1.MatMul(x, tokens, y1);
            w2?.MatMul(x, tokens, y2);
            return;
        }
        w0.CheckShapes(x, tokens, y0);
        w1.CheckShapes(x, tokens, y1);
        w2?.CheckShapes(x, tokens, y2);
        MatMulRows(x, tokens, w0, y0, w1, y1, w2, y2);
    }

    private void CheckShapes(ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        if (tokens < 0) throw new ArgumentOutOfRangeException(nameof(tokens));
        if (x.Length < (long)tokens * Cols) throw new ArgumentException($"x has {x.Length} elements, fewer than ({tokens}, {Cols})");
        if (y.Length < (long)tokens * Rows) throw new ArgumentException($"y has {y.Length} elements, fewer than ({tokens}, {Rows})");
    }

    /// <summary>Whether x is quantized for an integer dot kernel (else rounded to its activation type and kept in f32).</summary>
    private bool Fused(int tokens) => !ForceDecodePath && QuantDot.HasFusedKernel(Type)
        && !(tokens >= PrefillGemmFrom(Type) && PrefillGemmTypes(Type) && !(PacksRows && !NoRepack));

    /// <summary>Whether <paramref name="tokens"/> rows go through the blocked SGEMM rather than the row kernels.</summary>
    private bool UsesGemm(int tokens) => tokens > SmallBatchTokens && !HalfKernels && (Type == GgmlType.F32 || (!Fused(tokens) && !ForceDecodePath));

    /// <summary>f16/bf16 weights keep to the row path at every batch size where AVX2 runs: it reproduces llama.cpp's
    /// orders (tinyBLAS from two tokens, ggml_vec_dot otherwise), which bf16-rounded activations would amplify.</summary>
    private bool HalfKernels => FloatDot.Supported && !ForceDecodePath && Type is GgmlType.F16 or GgmlType.BF16;

    /// <summary>Prompt processing: the blocked SGEMM, with W's rows decoded while packed for quantized and f16/bf16 weights.</summary>
    private void MatMulGemm(ReadOnlySpan<float> x, int tokens, Span<float> y)
    {
        fixed (float* xp = x)
        fixed (float* yp = y)
        {
            if (Type == GgmlType.F32)
            {
                // y (T, N) = x (T, K) . W^T with W (N, K) row-major.
                Kernels.Gemm.Sgemm(false, true, tokens, Rows, Cols, 1f, xp, Cols, (float*)Weights(), Cols, 0f, yp, Rows);
                GC.KeepAlive(_owner);
                return;
            }
            // x rounded first as the integer kernels would round it, so results match llama.cpp to f32 rounding.
            long actRowBytes = (long)Cols * sizeof(float);
            byte* act = BufferPool.Rent(actRowBytes * tokens, out long cap);
            try
            {
                var prep = new PrepareBody { X = xp, Act = act, ActRowBytes = actRowBytes, Cols = Cols, Type = FloatActivationRounding(Type), Fused = false };
                ComputePool.For(tokens, prep, tokens >= 8 ? ComputePool.Threads : 1);
                byte* packed = Packed();
                Kernels.Gemm.SgemmEncodedB(Kernels.GemmKernelKind.Auto, ComputePool.Threads, tokens, Rows, Cols, (float*)act, Cols,
                    new Kernels.EncodedRows(Type, packed != null ? packed : Weights(), RowBytes, interleaved8: packed != null), yp, Rows);
            }
            finally { BufferPool.Return(act, cap); }
        }
        GC.KeepAlive(_owner);
    }

    /// <summary>Rows of W per pool chunk for the row kernels: chunks are taken dynamically, as ggml's mul_mat takes its
    /// 64-row chunks, so a thread slowed by the rest of the machine does not hold up the whole step.</summary>
    private const int ChunkRows = 64;

    /// <summary>The row-kernel path for one to three matrices of one type and width (w1, w2 may be null).</summary>
    private static void MatMulRows(ReadOnlySpan<float> x, int tokens, QuantMatrix w0, Span<float> y0,
        QuantMatrix? w1, Span<float> y1, QuantMatrix? w2, Span<float> y2)
    {
        int cols = w0.Cols;
        bool fused = w0.Fused(tokens);
        GgmlType actType = fused ? ActivationQuant.DotType(w0.Type) : FloatActivationRounding(w0.Type);
        long actRowBytes = fused ? GgmlTypeLayout.RowBytes(actType, cols) : (long)cols * sizeof(float);
        byte* act = BufferPool.Rent(actRowBytes * tokens, out long cap);
        byte* sums = null;
        long sumsCap = 0;
        try
        {
            fixed (float* xp = x)
            fixed (float* p0 = y0)
            fixed (float* p1 = y1)
            fixed (float* p2 = y2)
            {
                var prep = new PrepareBody { X = xp, Act = act, ActRowBytes = actRowBytes, Cols = cols, Type = actType, Fused = fused };
                ComputePool.For(tokens, prep, tokens >= 8 ? ComputePool.Threads : 1);
                var body = new RowsBody
                {
                    A = w0.Body(tokens, act, actRowBytes, fused, p0),
                    B = w1?.Body(tokens, act, actRowBytes, fused, p1) ?? default,
                    C = w2?.Body(tokens, act, actRowBytes, fused, p2) ?? default,
                };
                if (body.A.Packed != null || body.B.Packed != null || body.C.Packed != null)
                {
                    // Interleaved Q4_0 / Q4_K: each token's block sums (and Q4_0's scales), once for every chunk of every matrix.
                    int perToken = PreparedBytes(w0.Type, cols);
                    sums = BufferPool.Rent((long)perToken * tokens, out sumsCap);
                    for (int t = 0; t < tokens; t++)
                    {
                        byte* pt = sums + (long)t * perToken;
                        if (w0.Type == GgmlType.Q4_K) Q4_Kx8.Prepare(act + t * actRowBytes, cols / 256, (int*)pt);
                        else Q4_0x8.Prepare(act + t * actRowBytes, cols / 32, (int*)pt, (float*)(pt + cols / 32 * sizeof(int)), QuantDot.F16Table);
                    }
                    body.A.Prepared = body.B.Prepared = body.C.Prepared = sums;
                }
                body.GroupsA = Groups(w0.Rows);
                body.GroupsAB = body.GroupsA + (w1 == null ? 0 : Groups(w1.Rows));
                int groups = body.GroupsAB + (w2 == null ? 0 : Groups(w2.Rows));
                long rows = (long)groups * RowGroup;
                long work = rows * cols * tokens;
                int chunks = work < (1L << 16) ? 1 : (int)Math.Max(ComputePool.Threads, rows / ChunkRows);
                ComputePool.For(groups, body, chunks);
            }
        }
        finally
        {
            BufferPool.Return(act, cap);
            if (sums != null) BufferPool.Return(sums, sumsCap);
        }
        GC.KeepAlive(w0._owner);
        GC.KeepAlive(w1?._owner);
        GC.KeepAlive(w2?._owner);
    }

    private static int Groups(int rows) => (rows + RowGroup - 1) / RowGroup;

    /// <summary>Bytes per token of the packed kernels' prepared inputs: Q4_0's block corrections and scales, Q4_K's sub-block sums.</summary>
    private static int PreparedBytes(GgmlType type, int cols)
        => type == GgmlType.Q4_K ? cols / 256 * Q4_Kx8.PreparedInts * sizeof(int) : cols / 32 * (sizeof(int) + sizeof(float));

    private MatMulBody Body(int tokens, byte* act, long actRowBytes, bool fused, float* y)
    {
        byte* packed = fused ? Packed() : null;
        return new()
        {
            W = packed != null ? _data : Weights(), WRowBytes = RowBytes, Type = Type, Rows = Rows, Cols = Cols, Tokens = tokens,
            Act = act, ActRowBytes = actRowBytes, Y = y, Fused = fused, F16 = QuantDot.F16Table, Packed = packed,
        };
    }

    /// <summary>Row groups [0, GroupsA) of A, then B's, then C's, as one range for the pool.</summary>
    private struct RowsBody : IRangeBody
    {
        public MatMulBody A, B, C;
        public int GroupsA, GroupsAB;

        public readonly void Run(int start, int end)
        {
            int aEnd = Math.Min(end, GroupsA), bStart = Math.Max(start, GroupsA), bEnd = Math.Min(end, GroupsAB), cStart = Math.Max(start, GroupsAB);
            if (start < aEnd) A.Run(start, aEnd);
            if (bStart < bEnd) B.Run(bStart - GroupsA, bEnd - GroupsA);
            if (cStart < end) C.Run(cStart - GroupsAB, end - GroupsAB);
        }
    }

    /// <summary>From how many tokens on a type's quantized weights are decoded to f32 blocks for the SGEMM (activations rounded through the integer kernels' type first).</summary>
    /// <remarks>
    /// The decoded weights times the rounded activations are the integer kernels' products exactly, so only the f32
    /// summation order differs (about 1e-7 relative). Q4_1/Q5_1 stay on the integer kernels: llama.cpp's Q8_1 block
    /// sums are rounded to f16, which only those kernels reproduce. 1.1-1.9x the integer tiles at 512 tokens.
    /// Repacked Q4_0 and Q4_K stay on their interleaved kernels too, as llama.cpp's repacked mul_mat does at every
    /// batch size (Q4_K in `loom bench quant`, 2048 x 8192 at 128 tokens, 2 threads: 16-20 ms against 40-80 ms
    /// through the SGEMM; the 1B Q4_0 file, best of two: 87-97 prompt tokens/s at 32-512 tokens against 35-75).
    /// Q8_0's 8-token integer tiles keep pace with the SGEMM until about 256 tokens (1B Q8_0 file, 2 threads: 63-65
    /// prompt tokens/s at 32-256 tokens against 30, 47, 59 and 67 through the SGEMM at 32, 64, 128 and 256).
    /// </remarks>
    private static int PrefillGemmFrom(GgmlType t) => PrefillGemmOverride ?? (t == GgmlType.Q8_0 ? 256 : 32);

    /// <summary>LOOM_PREFILL_GEMM_TOKENS: one threshold for every type, for comparisons.</summary>
    private static readonly int? PrefillGemmOverride =
        int.TryParse(Environment.GetEnvironmentVariable("LOOM_PREFILL_GEMM_TOKENS"), out int n) && n > 0 ? n : null;

    private static bool PrefillGemmTypes(GgmlType t) => t is not (GgmlType.Q4_1 or GgmlType.Q5_1);

    /// <summary>Up to this many tokens, float weights take the row-by-row dot path instead of the blocked SGEMM.</summary>
    private const int SmallBatchTokens = 16;

    /// <summary>For weights without a fused kernel: the type whose rounding x goes through so results match llama.cpp (its vec_dot_type).</summary>
    private static GgmlType FloatActivationRounding(GgmlType t) => t switch
    {
        GgmlType.F32 => GgmlType.F32,
        GgmlType.F16 => GgmlType.F16,
        GgmlType.BF16 => GgmlType.BF16,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlType.Q8_0, // Q8_1 codes equal Q8_0's
        _ => ActivationQuant.DotType(t),
    };

    /// <summary>Quantizes (or rounds, for the float path) each token's activation row.</summary>
    private struct PrepareBody : IRangeBody
    {
        public float* X;
        public byte* Act;
        public long ActRowBytes;
        public int Cols;
        public GgmlType Type;
        public bool Fused;

        public readonly void Run(int start, int end)
        {
            if (Fused)
            {
                for (int t = start; t < end; t++) ActivationQuant.Quantize(Type, X + (long)t * Cols, Act + t * ActRowBytes, Cols);
                return;
            }
            if (Type == GgmlType.F32)
            {
                for (int t = start; t < end; t++) new ReadOnlySpan<float>(X + (long)t * Cols, Cols).CopyTo(new Span<float>(Act + t * ActRowBytes, Cols));
                return;
            }
            // Round through the activation type: encode into one scratch row, decode back in place.
            long bytes = GgmlTypeLayout.RowBytes(Type, Cols);
            byte* tmp = BufferPool.Rent(bytes, out long cap);
            try
            {
                for (int t = start; t < end; t++)
                {
                    QuantRows.Quantize(Type, new ReadOnlySpan<float>(X + (long)t * Cols, Cols), new Span<byte>(tmp, (int)bytes));
                    QuantRows.Dequantize(Type, new ReadOnlySpan<byte>(tmp, (int)bytes), new Span<float>(Act + t * ActRowBytes, Cols));
                }
            }
            finally { BufferPool.Return(tmp, cap); }
        }
    }

    private struct MatMulBody : IRangeBody
    {
        public byte* W, Act;
        public long WRowBytes, ActRowBytes;
        public GgmlType Type;
        public int Rows, Cols, Tokens;
        public float* Y, F16;
        public byte* Packed;
        public byte* Prepared;   // with Packed: per token, Q4_0x8.Prepare's corrections and scales or Q4_Kx8.Prepare's sums
        public bool Fused;

        [ThreadStatic] private static float[]? _rowScratch;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int r0 = start * RowGroup, r1 = Math.Min(Rows, end * RowGroup);
            if (!Fused) { RunFloat(r0, r1); return; }
            if (Packed != null)
            {
                RunPacked(r0, r1);
                return;
            }
            if (Tokens >= 8 && Type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0)
            {
                for (int g = r0; g < r1; g += RowGroup) RunTiled(g, Math.Min(r1, g + RowGroup));
                return;
            }
            if (Tokens >= 4 && Type is GgmlType.Q4_K or GgmlType.Q6_K)
            {
                for (int g = r0; g < r1; g += RowGroup) RunTiledK(g, Math.Min(r1, g + RowGroup));
                return;
            }
            for (int g = r0; g < r1; g += RowGroup)
            {
                int ge = Math.Min(r1, g + RowGroup);
                for (int t = 0; t < Tokens; t++)
                {
                    byte* a = Act + t * ActRowBytes;
                    float* y = Y + (long)t * Rows;
                    for (int r = g; r < ge; r++) y[r] = QuantDot.Dot(Type, W + r * WRowBytes, a, Cols, F16);
                }
            }
        }

        /// <summary>Rows [r0, r1) against all tokens, eight tokens per pass over a weight row (the row stays in L1).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void RunTiled(int r0, int r1)
        {
            float* res = stackalloc float[8];
            int nb = Cols / 32;
            int t = 0;
            for (; t + 8 <= Tokens; t += 8)
            {
                byte* a = Act + t * ActRowBytes;
                for (int r = r0; r < r1; r++)
                {
                    byte* w = W + r * WRowBytes;
                    switch (Type)
                    {
                        case GgmlType.Q8_0: QuantTile.Dot1x8<Q8_0Block>(w, a, ActRowBytes, nb, res, F16); break;
                        case GgmlType.Q4_0: QuantTile.Dot1x8<Q4_0Block>(w, a, ActRowBytes, nb, res, F16); break;
                        default: QuantTile.Dot1x8<Q5_0Block>(w, a, ActRowBytes, nb, res, F16); break;
                    }
                    for (int i = 0; i < 8; i++) Y[(long)(t + i) * Rows + r] = res[i];
                }
            }
            for (; t < Tokens; t++)
                for (int r = r0; r < r1; r++)
                    Y[(long)t * Rows + r] = QuantDot.Dot(Type, W + r * WRowBytes, Act + t * ActRowBytes, Cols, F16);
        }

        /// <summary>Interleaved Q4_0 / Q4_K rows [r0, r1) (whole groups of eight) against every token, with each token's <see cref="Prepared"/> inputs.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void RunPacked(int r0, int r1)
        {
            int perToken = PreparedBytes(Type, Cols);
            if (Type == GgmlType.Q4_K)
            {
                int nbk = Cols / 256;
                for (int g = r0; g < r1; g += 8)
                {
                    byte* group = Packed + (long)g / 8 * nbk * Q4_Kx8.BlockBytes;
                    // Whole fours of tokens round as ggml's gemm kernel, the rest as its gemv.
                    int t = 0;
                    for (; t + 4 <= Tokens; t += 4)
                        Q4_Kx8.Dot8x4(group, nbk, Act + t * ActRowBytes, (nint)ActRowBytes, (int*)(Prepared + (long)t * perToken), perToken / sizeof(int), Y + (long)t * Rows + g, Rows);
                    for (; t < Tokens; t++)
                        Q4_Kx8.Dot8(group, nbk, Act + t * ActRowBytes, (int*)(Prepared + (long)t * perToken), Y + (long)t * Rows + g);
                }
                return;
            }
            int nb = Cols / 32;
            for (int g = r0; g < r1; g += 8)
            {
                byte* group = Packed + g * WRowBytes;
                for (int t = 0; t < Tokens; t++)
                {
                    byte* pt = Prepared + (long)t * perToken;
                    Q4_0x8.Dot8(group, nb, Act + t * ActRowBytes, (int*)pt, (float*)(pt + nb * sizeof(int)), Y + (long)t * Rows + g);
                }
            }
        }

        /// <summary>Q4_K / Q6_K rows [r0, r1) against all tokens, four tokens per pass over a weight row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void RunTiledK(int r0, int r1)
        {
            float* res = stackalloc float[4];
            int nb = Cols / 256;
            int t = 0;
            for (; t + 4 <= Tokens; t += 4)
            {
                byte* a = Act + t * ActRowBytes;
                for (int r = r0; r < r1; r++)
                {
                    byte* w = W + r * WRowBytes;
                    if (Type == GgmlType.Q4_K) QuantTileK.Q4K1x4(w, a, (nint)ActRowBytes, nb, res, F16);
                    else QuantTileK.Q6K1x4(w, a, (nint)ActRowBytes, nb, res, F16);
                    for (int i = 0; i < 4; i++) Y[(long)(t + i) * Rows + r] = res[i];
                }
            }
            for (; t < Tokens; t++)
                for (int r = r0; r < r1; r++)
                    Y[(long)t * Rows + r] = QuantDot.Dot(Type, W + r * WRowBytes, Act + t * ActRowBytes, Cols, F16);
        }

        /// <summary>F32 rows [r0, r1) against 4..16 tokens: 2 x 4 register tiles, dot products for the leftovers.</summary>
        private readonly void RunF32Tiles(int r0, int r1)
        {
            float* x = (float*)Act;
            int t4 = Tokens & ~3;
            int r = r0;
            for (; r + 2 <= r1; r += 2)
            {
                float* w0 = (float*)(W + r * WRowBytes);
                for (int t = 0; t < t4; t += 4)
                    F32Tile.Dot2x4(w0, w0 + Cols, x + (long)t * Cols, Cols, Cols, Y + (long)t * Rows + r, Rows);
            }
            for (; r < r1; r++)
                for (int t = 0; t < t4; t++) Y[(long)t * Rows + r] = RowDot(r, t);
            for (r = r0; r < r1; r++)
                for (int t = t4; t < Tokens; t++) Y[(long)t * Rows + r] = RowDot(r, t);
        }

        private readonly float RowDot(int r, int t)
            => TensorPrimitives.Dot(new ReadOnlySpan<float>(W + r * WRowBytes, Cols), new ReadOnlySpan<float>((float*)Act + (long)t * Cols, Cols));

        /// <summary>f16/bf16 rows [r0, r1) against every token, in the order ggml-cpu picks for this shape and batch.</summary>
        private readonly void RunHalf(int r0, int r1)
        {
            float* x = (float*)Act;
            ushort* w = (ushort*)W;
            nint stride = (nint)(WRowBytes / 2);
            bool bf16 = Type == GgmlType.BF16;
            if (HalfTile.Applies(Rows, Cols, Tokens))
            {
                if (bf16) HalfTile.MatMul<HalfTile.Bf16>(w, stride, r0, r1, x, Tokens, Cols, Y, Rows);
                else HalfTile.MatMul<HalfTile.F16>(w, stride, r0, r1, x, Tokens, Cols, Y, Rows);
                return;
            }
            for (int r = r0; r < r1; r++)
                for (int t = 0; t < Tokens; t++)
                    Y[(long)t * Rows + r] = bf16 ? FloatDot.Bf16(w + r * stride, x + (long)t * Cols, Cols) : FloatDot.F16(w + r * stride, x + (long)t * Cols, Cols);
        }

        /// <summary>Weights without a fused kernel: decode a row to f32 once, dot it with every token.</summary>
        private readonly void RunFloat(int r0, int r1)
        {
            if (FloatDot.Supported && Type is GgmlType.F16 or GgmlType.BF16)
            {
                RunHalf(r0, r1);
                return;
            }
            // A few tokens (decode steps of a small batch): one pass over W, each row dotted with every token while it
            // is in L1. Packing W for the SGEMM would cost as much as reading it, for a few FLOPs per weight.
            if (Tokens <= SmallBatchTokens && Type == GgmlType.F32)
            {
                if (Type == GgmlType.F32 && Tokens >= 4 && F32Tile.Supported)
                {
                    RunF32Tiles(r0, r1);
                    return;
                }
                for (int r = r0; r < r1; r++)
                {
                    byte* wr = W + r * WRowBytes;
                    for (int t = 0; t < Tokens; t++)
                    {
                        float* x = (float*)Act + (long)t * Cols;
                        Y[(long)t * Rows + r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(wr, Cols), new ReadOnlySpan<float>(x, Cols));
                    }
                }
                return;
            }
            // Several tokens: decode a block of rows to f32 and hand it to the blocked SGEMM (nested in this pool job,
            // so it runs on this thread): y[:, r..r+n) = x (T, K) . block^T.
            const int Block = 64;
            var rows = _rowScratch;
            int blockRows = Math.Min(Block, r1 - r0);
            if (rows == null || rows.Length < blockRows * Cols) _rowScratch = rows = new float[blockRows * Cols];
            fixed (float* wf = rows)
            {
                for (int r = r0; r < r1; r += Block)
                {
                    int n = Math.Min(Block, r1 - r);
                    for (int i = 0; i < n; i++)
                        QuantRows.Dequantize(Type, new ReadOnlySpan<byte>(W + (r + i) * WRowBytes, (int)WRowBytes), rows.AsSpan(i * Cols, Cols));
                    Kernels.Gemm.Sgemm(false, true, Tokens, n, Cols, 1f, (float*)Act, Cols, wf, Cols, 0f, Y + r, Rows);
                }
            }
        }
    }
}
