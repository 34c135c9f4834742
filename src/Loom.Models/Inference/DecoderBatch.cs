using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Tensors;
using Loom.Tensors.Quant;

namespace Loom.Models.Inference;

/// <summary>
/// The stateful half of a <see cref="DecoderModel"/>: per-slot KV caches and reused work buffers. One forward pass
/// serves every row of a ragged batch: the rows' tokens are concatenated to (N, C) for the projections, norms and MLP
/// (matrix-matrix through QuantMatrix), each token is rotated at its own position, and each token attends to its own
/// slot's cache. Long batches run in chunks of <see cref="MaxChunkTokens"/> tokens. Not thread-safe.
/// </summary>
public sealed class DecoderBatch : IBatchedLm
{
    /// <summary>Tokens per forward chunk (llama.cpp's default micro-batch).</summary>
    public const int MaxChunkTokens = 512;

    internal enum OutputMode { LastLogits, AllLogits, AllHidden }

    private readonly DecoderModel _model;
    private readonly DecoderConfig _c;
    private readonly int _slots, _capacity;
    private readonly KvCacheType _cacheType;
    // Per (layer, slot): keys and values laid out (KvHeads, capacity, HeadDim or ValueDim), so one head's scan is contiguous.
    private readonly float[][]? _k32, _v32;
    private readonly Half[][]? _k16, _v16;
    private readonly int[] _length;
    // Batch-invariant numerics (the server): f32 matmuls through InvariantF32MatMul and one attention dot order for
    // every chunk, so a row's results do not depend on what else is in the batch.
    private readonly bool _invariant;

    private int _bufTokens;
    private float[] _x = [], _xn = [], _q = [], _k = [], _v = [], _att = [], _o = [], _gate = [], _up = [], _wide = [], _hidden = [];
    private int[] _tok = [], _slotOf = [], _posOf = [];
    private int[] _rowTokens = [];
    private bool[] _used = [];

    internal DecoderBatch(DecoderModel model, int slots, int contextLength, KvCacheType cacheType, bool batchInvariant = false)
    {
        if (slots <= 0) throw new ArgumentOutOfRangeException(nameof(slots), slots, "a batch needs at least one slot");
        if (contextLength <= 0) throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "context length must be positive");
        _model = model;
        _c = model.Config;
        _slots = slots;
        _capacity = contextLength;
        _cacheType = cacheType;
        _invariant = batchInvariant && InvariantF32MatMul.Supported;
        long kLen = (long)_c.KvHeads * contextLength * _c.HeadDim, vLen = (long)_c.KvHeads * contextLength * _c.ValueDim;
        if (Math.Max(kLen, vLen) > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "context too long for one cache array");
        int n = _c.Layers * slots;
        if (cacheType == KvCacheType.F32)
        {
            _k32 = new float[n][];
            _v32 = new float[n][];
            for (int i = 0; i < n; i++) { _k32[i] = new float[kLen]; _v32[i] = new float[vLen]; }
        }
        else
        {
            _k16 = new Half[n][];
            _v16 = new Half[n][];
            for (int i = 0; i < n; i++) { _k16[i] = new Half[kLen]; _v16[i] = new Half[vLen]; }
        }
        _length = new int[slots];
        _used = new bool[slots];
    }

    public DecoderModel Model => _model;
    public int VocabSize => _c.VocabSize;
    public int ContextLength => _capacity;
    public int SlotCount => _slots;
    public KvCacheType CacheType => _cacheType;

    public int SlotLength(int slot) => _length[CheckSlot(slot)];

    public void TruncateSlot(int slot, int length)
    {
        CheckSlot(slot);
        if (length < 0 || length > _length[slot])
            throw new ArgumentOutOfRangeException(nameof(length), length, $"slot {slot} holds {_length[slot]} tokens; cannot truncate to {length}");
        _length[slot] = length;
    }

    private int CheckSlot(int slot)
    {
        if ((uint)slot >= (uint)_slots) throw new ArgumentOutOfRangeException(nameof(slot), slot, $"slot must be in [0, {_slots})");
        return slot;
    }

    public void Forward(ReadOnlySpan<BatchRow> rows, Span<float> logits) => Run(rows, OutputMode.LastLogits, logits);

    /// <summary>
    /// Appends every row and writes, by <paramref name="mode"/>: each row's last-token logits (rows, V), every token's
    /// logits (N, V), or every token's final-norm hidden state (N, C).
    /// </summary>
    internal void Run(ReadOnlySpan<BatchRow> rows, OutputMode mode, Span<float> output)
    {
        int total = Validate(rows);
        int width = mode == OutputMode.AllHidden ? _c.Dim : _c.VocabSize;
        int outRows = mode == OutputMode.LastLogits ? rows.Length : total;
        if (output.Length < (long)outRows * width) throw new ArgumentException($"output has {output.Length} elements, needs ({outRows}, {width})");

        // Walk the rows in order, cutting them into chunks of at most MaxChunkTokens tokens; a row may span chunks.
        int row = 0, offset = 0, outIndex = 0;
        while (row < rows.Length)
        {
            int n = 0, firstOut = outIndex, outputs = 0;
            EnsureBuffers(Math.Min(total, MaxChunkTokens));
            var outFlags = _rowTokens;   // reused as "token i is an output" marker for this chunk
            while (row < rows.Length && n < MaxChunkTokens)
            {
                var r = rows[row];
                var ids = r.Tokens.Span;
                int take = Math.Min(ids.Length - offset, MaxChunkTokens - n);
                int start = _length[r.Slot] + offset;
                for (int j = 0; j < take; j++)
                {
                    _tok[n + j] = ids[offset + j];
                    _slotOf[n + j] = r.Slot;
                    _posOf[n + j] = start + j;
                    bool last = offset + j == ids.Length - 1;
                    bool isOut = mode != OutputMode.LastLogits || last;
                    outFlags[n + j] = isOut ? 1 : 0;
                    if (isOut) outputs++;
                }
                n += take;
                offset += take;
                if (offset == ids.Length) { row++; offset = 0; }
            }
            RunChunk(n);
            WriteOutputs(n, outFlags, mode, output.Slice(firstOut * width, outputs * width), outputs);
            outIndex += outputs;
        }
        // Commit the new lengths only now: a row's later chunks take their positions from the length before this call.
        foreach (var r in rows) _length[r.Slot] += r.Tokens.Length;
    }

    private int Validate(ReadOnlySpan<BatchRow> rows)
    {
        if (rows.Length == 0) throw new ArgumentException("the batch has no rows");
        Array.Clear(_used);
        long total = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            var r = rows[i];
            CheckSlot(r.Slot);
            if (_used[r.Slot]) throw new ArgumentException($"slot {r.Slot} appears in more than one row of the batch");
            _used[r.Slot] = true;
            var ids = r.Tokens.Span;
            if (ids.Length == 0) throw new ArgumentException($"row {i} (slot {r.Slot}) has no tokens");
            if (_length[r.Slot] + ids.Length > _capacity)
                throw new ArgumentException($"slot {r.Slot} holds {_length[r.Slot]} tokens; {ids.Length} more exceed its context of {_capacity}");
            foreach (int id in ids)
                if ((uint)id >= (uint)_c.VocabSize) throw new ArgumentOutOfRangeException(nameof(rows), id, $"token id must be in [0, {_c.VocabSize})");
            total += ids.Length;
        }
        return (int)total;
    }

    private void EnsureBuffers(int tokens)
    {
        if (tokens <= _bufTokens) return;
        int n = Math.Max(tokens, Math.Min(MaxChunkTokens, Math.Max(_bufTokens * 2, 1)));
        var c = _c;
        _x = new float[n * c.Dim];
        _xn = new float[n * c.Dim];
        _o = new float[n * c.Dim];
        _hidden = new float[n * c.Dim];
        _q = new float[n * c.QueryWidth];
        _k = new float[n * c.KeyWidth];
        _v = new float[n * c.ValueWidth];
        _att = new float[n * c.Heads * c.ValueDim];
        _gate = new float[n * c.FfnDim];
        _up = new float[n * c.FfnDim];
        _wide = new float[n * Math.Max(2 * c.FfnDim, c.QueryWidth + c.KeyWidth + c.ValueWidth)];
        _tok = new int[n];
        _slotOf = new int[n];
        _posOf = new int[n];
        _rowTokens = new int[n];
        _bufTokens = n;
    }

    private void RunChunk(int n)
    {
        var c = _c;
        var w = _model.Weights;
        int dim = c.Dim;
        var x = _x.AsSpan(0, n * dim);
        for (int i = 0; i < n; i++) w.TokenEmbedding.DequantizeRow(_tok[i], x.Slice(i * dim, dim));
        if (c.ScaleEmbedding) TensorPrimitives.Multiply(x, MathF.Sqrt(dim), x);
        Dump("embd", -1, x);
        int maxPos = 0;
        for (int i = 0; i < n; i++) maxPos = Math.Max(maxPos, _posOf[i]);
        var rope = _model.RopeTable(maxPos + 1);
        for (int l = 0; l < c.Layers; l++) Layer(l, n, rope);
    }

    /// <summary>
    /// Debugging aid: with LOOM_DUMP_DIR set, every forward chunk writes its activations as raw f32 files named like
    /// llama.cpp's graph tensors (attn_norm-L, Qcur-L, ...; see tools/llamacpp/dump_tensors.c), the last chunk winning.
    /// Off (one static read) otherwise.
    /// </summary>
    private static readonly string? DumpDir = Environment.GetEnvironmentVariable("LOOM_DUMP_DIR");

    private static void Dump(string name, int layer, ReadOnlySpan<float> data)
    {
        if (DumpDir == null) return;
        string file = Path.Combine(DumpDir, (layer >= 0 ? $"{name}-{layer}" : name) + ".f32");
        File.WriteAllBytes(file, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data).ToArray());
    }

    private void Layer(int l, int n, float[] rope)
    {
        var c = _c;
        var lw = _model.Weights.Layers[l];
        int dim = c.Dim, qw = c.QueryWidth, kw = c.KeyWidth, vw = c.ValueWidth;
        var x = _x.AsSpan(0, n * dim);
        var xn = _xn.AsSpan(0, n * dim);
        var q = _q.AsSpan(0, n * qw);
        var k = _k.AsSpan(0, n * kw);
        var v = _v.AsSpan(0, n * vw);

        // Attention block.
        RmsNormRows(x, lw.AttnNorm, xn, n, dim, c.NormEps);
        Dump("attn_norm", l, xn);
        if (lw.Qkv != null)
        {
            int fw = qw + kw + vw;
            var qkv = _wide.AsSpan(0, n * fw);
            MatMul(lw.Qkv, xn, n, qkv);   // (N, Q + K + V)
            for (int i = 0; i < n; i++)
            {
                qkv.Slice(i * fw, qw).CopyTo(q.Slice(i * qw, qw));
                qkv.Slice(i * fw + qw, kw).CopyTo(k.Slice(i * kw, kw));
                qkv.Slice(i * fw + qw + kw, vw).CopyTo(v.Slice(i * vw, vw));
            }
        }
        else
        {
            // q (N, H * D), k (N, Hkv * D), v (N, Hkv * Dv): one pool job for the three.
            if (_invariant && lw.Q!.Type == GgmlType.F32 && lw.K!.Type == GgmlType.F32 && lw.V!.Type == GgmlType.F32)
                InvariantF32MatMul.MatMul(xn, n, lw.Q, q, lw.K, k, lw.V, v);
            else QuantMatrix.MatMul(xn, n, lw.Q!, q, lw.K!, k, lw.V!, v);
        }
        Dump("Qcur", l, q);
        Dump("Kcur", l, k);
        Dump("Vcur", l, v);
        if (lw.QBias != null) AddRows(q, lw.QBias, n);
        if (lw.KBias != null) AddRows(k, lw.KBias, n);
        if (lw.VBias != null) AddRows(v, lw.VBias, n);
        if (lw.QNorm != null) RmsNormRows(q, lw.QNorm, q, n * c.Heads, c.HeadDim, c.NormEps);
        if (lw.KNorm != null) RmsNormRows(k, lw.KNorm, k, n * c.KvHeads, c.HeadDim, c.NormEps);
        for (int i = 0; i < n; i++)
        {
            int p = _posOf[i];
            for (int h = 0; h < c.Heads; h++) Rope(q.Slice(i * qw + h * c.HeadDim, c.HeadDim), rope, p);
            for (int h = 0; h < c.KvHeads; h++) Rope(k.Slice(i * kw + h * c.HeadDim, c.HeadDim), rope, p);
        }
        Dump("Qrope", l, q);
        Dump("Krope", l, k);
        StoreKv(l, n);
        Attention(l, n);
        var o = _o.AsSpan(0, n * dim);
        Dump("kqv_out", l, _att.AsSpan(0, n * c.Heads * c.ValueDim));
        MatMul(lw.AttnOutput, _att.AsSpan(0, n * c.Heads * c.ValueDim), n, o);   // (N, C)
        Dump("attn_out", l, o);
        if (lw.PostAttnNorm != null) RmsNormRows(o, lw.PostAttnNorm, o, n, dim, c.NormEps);
        TensorPrimitives.Add(x, o, x);
        Dump("ffn_inp", l, x);

        // MLP block.
        RmsNormRows(x, lw.FfnNorm, xn, n, dim, c.NormEps);
        Dump("ffn_norm", l, xn);
        int f = c.FfnDim;
        var gate = _gate.AsSpan(0, n * f);
        var up = _up.AsSpan(0, n * f);
        if (lw.GateUp != null)
        {
            var gu = _wide.AsSpan(0, n * 2 * f);
            MatMul(lw.GateUp, xn, n, gu);   // (N, 2F): [gate | up]
            for (int i = 0; i < n; i++)
            {
                gu.Slice(i * 2 * f, f).CopyTo(gate.Slice(i * f, f));
                gu.Slice(i * 2 * f + f, f).CopyTo(up.Slice(i * f, f));
            }
        }
        else
        {
            if (_invariant && lw.Gate!.Type == GgmlType.F32 && lw.Up!.Type == GgmlType.F32) InvariantF32MatMul.MatMul(xn, n, lw.Gate, gate, lw.Up, up);
            else QuantMatrix.MatMul(xn, n, lw.Gate!, gate, lw.Up!, up);   // gate, up (N, F)
        }
        Dump("ffn_gate", l, gate);
        Dump("ffn_up", l, up);
        if (c.Activation == FfnActivation.Silu) SwiGlu(gate, up);
        else GeGlu(gate, up);
        Dump("ffn_act", l, gate);
        MatMul(lw.Down, gate, n, o);   // (N, C)
        Dump("ffn_out", l, o);
        if (lw.PostFfnNorm != null) RmsNormRows(o, lw.PostFfnNorm, o, n, dim, c.NormEps);
        TensorPrimitives.Add(x, o, x);
        Dump("l_out", l, x);
    }

    private void WriteOutputs(int n, int[] isOut, OutputMode mode, Span<float> output, int outputs)
    {
        var c = _c;
        var w = _model.Weights;
        int dim = c.Dim;
        var hidden = _hidden.AsSpan(0, outputs * dim);
        int m = 0;
        for (int i = 0; i < n; i++)
            if (isOut[i] != 0) RmsNorm(_x.AsSpan(i * dim, dim), w.OutputNorm, hidden.Slice(m++ * dim, dim), c.NormEps);
        Dump("result_norm", -1, hidden);
        if (mode == OutputMode.AllHidden) { hidden.CopyTo(output); return; }
        var logits = output[..(outputs * c.VocabSize)];
        MatMul(w.Output, hidden, outputs, logits);   // (M, V)
        if (c.FinalSoftCap > 0)
        {
            float cap = c.FinalSoftCap;
            TensorPrimitives.Multiply(logits, 1f / cap, logits);
            TensorPrimitives.Tanh(logits, logits);
            TensorPrimitives.Multiply(logits, cap, logits);
        }
    }

    /// <summary>y = x · Wᵀ: through the batch-invariant kernel for f32 weights when this batch is invariant.</summary>
    private void MatMul(QuantMatrix w, ReadOnlySpan<float> x, int n, Span<float> y)
    {
        if (_invariant && w.Type == GgmlType.F32) InvariantF32MatMul.MatMul(x, n, w, y);
        else w.MatMul(x, n, y);
    }

    /// <summary>Copies each token's keys and values into its slot's cache at its position.</summary>
    private void StoreKv(int l, int n)
    {
        var c = _c;
        int d = c.HeadDim, dv = c.ValueDim;
        for (int i = 0; i < n; i++)
        {
            int s = l * _slots + _slotOf[i], p = _posOf[i];
            for (int g = 0; g < c.KvHeads; g++)
            {
                var ksrc = _k.AsSpan(i * c.KeyWidth + g * d, d);
                var vsrc = _v.AsSpan(i * c.ValueWidth + g * dv, dv);
                long kAt = ((long)g * _capacity + p) * d, vAt = ((long)g * _capacity + p) * dv;
                if (_k32 != null)
                {
                    ksrc.CopyTo(_k32[s].AsSpan((int)kAt, d));
                    vsrc.CopyTo(_v32![s].AsSpan((int)vAt, dv));
                }
                else
                {
                    TensorPrimitives.ConvertToHalf(ksrc, _k16![s].AsSpan((int)kAt, d));
                    TensorPrimitives.ConvertToHalf(vsrc, _v16![s].AsSpan((int)vAt, dv));
                }
            }
        }
    }

    [ThreadStatic] private static float[]? _scratch;
    private bool _oneTokenChunk;

    /// <summary>
    /// One query head of one token against an f32 cache, in ggml-cpu's order (non-flash attention): the scores as
    /// ggml_vec_dot_f32 (llamafile_sgemm declines a strided Q and any single column), softmax with ggml_v_expf and
    /// eight-element float partial sums added in double, P·V as tinyBLAS (eight lanes over cache cells, hsum_float_8)
    /// in a multi-token batch, or for a lone token as ggml_vec_dot_f32 over the whole padded cache view (llama.cpp's
    /// n_kv is a multiple of 256 cells: 32 lanes over cells, no scalar tail). Cells are cache positions from 0, as in
    /// a fresh llama.cpp cache; cells past the token weigh 0 and add nothing.
    /// </summary>
    private unsafe void AttendF32(int l, int i, int h)
    {
        var c = _c;
        int d = c.HeadDim, dv = c.ValueDim;
        int p = _posOf[i], s = l * _slots + _slotOf[i], g = h / (c.Heads / c.KvHeads);
        int lo = 0;
        if (c.SlidingWindow > 0 && c.SlidingLayers != null && c.SlidingLayers[l]) lo = Math.Max(0, p - c.SlidingWindow + 1);
        int cells = (p + 8) & ~7;   // cells [0, cells) in whole groups of eight; outside [lo, p] the weight is 0
        int lanesPerCell = _oneTokenChunk ? 32 : 8;
        int need = cells + lanesPerCell * dv;
        if (_scratch == null || _scratch.Length < need) _scratch = new float[Math.Max(need, 1024)];
        float scale = c.AttentionScale, cap = c.AttentionSoftCap;
        long kBase = (long)g * _capacity * d, vBase = (long)g * _capacity * dv;
        bool vector = Avx2.IsSupported && Fma.IsSupported && d % 8 == 0 && dv % 8 == 0;
        fixed (float* scores = _scratch, qAll = _q, keys = _k32![s], values = _v32![s], att = _att)
        {
            float* lanes = scores + cells;
            float* q = qAll + (long)i * c.QueryWidth + h * d;
            float max = float.NegativeInfinity;
            int j0 = lo;
            if (vector && cap <= 0 && d % 32 == 0)
            {
                // Eight keys at a time: each key's products and pair sums as DotVecF32, then the eight reductions at once.
                var scalev = Vector256.Create(scale);
                for (; j0 + 8 <= p + 1; j0 += 8)
                {
                    float* key = keys + kBase + (long)j0 * d;
                    var dots = ReduceVecDot8(DotPairs(key, q, d), DotPairs(key + d, q, d), DotPairs(key + 2 * d, q, d),
                        DotPairs(key + 3 * d, q, d), DotPairs(key + 4 * d, q, d), DotPairs(key + 5 * d, q, d),
                        DotPairs(key + 6 * d, q, d), DotPairs(key + 7 * d, q, d));
                    Avx.Store(scores + j0, Avx.Multiply(dots, scalev));
                }
                if (j0 > lo) max = TensorPrimitives.Max(new ReadOnlySpan<float>(scores + lo, j0 - lo));
            }
            for (int j = j0; j <= p; j++)
            {
                float* key = keys + kBase + (long)j * d;
                float dot = vector ? DotVecF32(key, q, d) : DotVecF32(new(key, d), new(q, d));
                float sc = cap > 0 ? MathF.Tanh(dot * scale * (1f / cap)) * cap : dot * scale;
                scores[j] = sc;
                if (sc > max) max = sc;
            }
            // Softmax: ggml_v_expf over groups of eight cells, each group's float sum added in double.
            double sum = 0;
            for (int c8 = 0; c8 < cells; c8 += 8)
            {
                if (vector)
                {
                    var e = GgmlMath.Exp(Avx.Subtract(Avx.LoadVector256(scores + c8), Vector256.Create(max)));
                    var cell = Avx2.Add(Vector256.Create(c8), Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7));
                    var inside = Avx2.AndNot(Avx2.CompareGreaterThan(Vector256.Create(lo), cell), Avx2.CompareGreaterThan(Vector256.Create(p + 1), cell));
                    e = Avx.And(e, inside.AsSingle());
                    Avx.Store(scores + c8, e);
                    sum += GgmlMath.HSum8(e);
                    continue;
                }
                for (int t = 0; t < 8; t++)
                {
                    int j = c8 + t;
                    scores[j] = j >= lo && j <= p ? GgmlMath.Exp(scores[j] - max) : 0f;
                }
                sum += GgmlMath.HSum8(new ReadOnlySpan<float>(scores + c8, 8));
            }
            float inv = (float)(1.0 / sum);
            float* y = att + (long)i * c.Heads * dv + h * dv;
            if (vector && !_oneTokenChunk)
            {
                PValues8(scores, inv, values + vBase, dv, lo, p, y);
                return;
            }
            // P·V: cell j accumulates into lane j % 8 (tinyBLAS) or j % 32 (ggml_vec_dot_f32's four 8-lane accumulators).
            new Span<float>(lanes, lanesPerCell * dv).Clear();
            for (int j = lo; j <= p; j++)
            {
                float w = scores[j] * inv;
                float* acc = lanes + (j & (lanesPerCell - 1)) * dv;
                float* v = values + vBase + (long)j * dv;
                if (vector)
                {
                    var wv = Vector256.Create(w);
                    for (int e = 0; e < dv; e += 8) Avx.Store(acc + e, Fma.MultiplyAdd(Avx.LoadVector256(v + e), wv, Avx.LoadVector256(acc + e)));
                }
                else for (int e = 0; e < dv; e++) acc[e] = MathF.FusedMultiplyAdd(v[e], w, acc[e]);
            }
            if (_oneTokenChunk)
            {
                ReduceVecDotLanes(lanes, dv, y);
                return;
            }
            for (int e = 0; e < dv; e++)
            {
                float t0 = lanes[4 * dv + e] + lanes[e], t1 = lanes[5 * dv + e] + lanes[dv + e];
                float t2 = lanes[6 * dv + e] + lanes[2 * dv + e], t3 = lanes[7 * dv + e] + lanes[3 * dv + e];
                y[e] = (t0 + t2) + (t1 + t3);
            }
        }
    }

    /// <summary>
    /// P·V in eight lanes over cells (tinyBLAS's order: cell j adds into lane j % 8, in order of j; then
    /// ((l4 + l0) + (l6 + l2)) + ((l5 + l1) + (l7 + l3))), for cells [lo, p] weighted by scores[j] · inv, with the
    /// eight lanes of each 8-wide block of the output held in registers instead of memory.
    /// </summary>
    internal static unsafe void PValues8(float* scores, float inv, float* values, int dv, int lo, int p, float* y)
    {
        var invv = Vector256.Create(inv);
        int j = lo;
        for (; j + 8 <= p + 1; j += 8) Avx.Store(scores + j, Avx.Multiply(Avx.LoadVector256(scores + j), invv));
        for (; j <= p; j++) scores[j] *= inv;
        // A group cut by lo or p runs from a copy: its cells inside [lo, p] with their weights, zeros elsewhere (the
        // cells past p may lie past the cache's end). A zero cell adds +0, which leaves a lane unchanged: a lane is
        // never -0, since it starts at +0 and round-to-nearest sums to zero are +0.
        float* edgeV = stackalloc float[64];
        float* edgeW = stackalloc float[8];
        int g0 = lo & ~7;
        for (int e = 0; e < dv; e += 8)
        {
            var l0 = Vector256<float>.Zero; var l1 = Vector256<float>.Zero; var l2 = Vector256<float>.Zero; var l3 = Vector256<float>.Zero;
            var l4 = Vector256<float>.Zero; var l5 = Vector256<float>.Zero; var l6 = Vector256<float>.Zero; var l7 = Vector256<float>.Zero;
            for (int g = g0; g <= p; g += 8)
            {
                float* v = values + (long)g * dv + e, w = scores + g;
                long stride = dv;
                if (g < lo || g + 7 > p)
                {
                    for (int m = 0; m < 8; m++)
                    {
                        bool inside = g + m >= lo && g + m <= p;
                        Avx.Store(edgeV + 8 * m, inside ? Avx.LoadVector256(v + (long)m * dv) : Vector256<float>.Zero);
                        edgeW[m] = inside ? w[m] : 0f;
                    }
                    v = edgeV;
                    w = edgeW;
                    stride = 8;
                }
                l0 = Fma.MultiplyAdd(Avx.LoadVector256(v), Vector256.Create(w[0]), l0);
                l1 = Fma.MultiplyAdd(Avx.LoadVector256(v + stride), Vector256.Create(w[1]), l1);
                l2 = Fma.MultiplyAdd(Avx.LoadVector256(v + 2 * stride), Vector256.Create(w[2]), l2);
                l3 = Fma.MultiplyAdd(Avx.LoadVector256(v + 3 * stride), Vector256.Create(w[3]), l3);
                l4 = Fma.MultiplyAdd(Avx.LoadVector256(v + 4 * stride), Vector256.Create(w[4]), l4);
                l5 = Fma.MultiplyAdd(Avx.LoadVector256(v + 5 * stride), Vector256.Create(w[5]), l5);
                l6 = Fma.MultiplyAdd(Avx.LoadVector256(v + 6 * stride), Vector256.Create(w[6]), l6);
                l7 = Fma.MultiplyAdd(Avx.LoadVector256(v + 7 * stride), Vector256.Create(w[7]), l7);
            }
            Avx.Store(y + e, Avx.Add(Avx.Add(Avx.Add(l4, l0), Avx.Add(l6, l2)), Avx.Add(Avx.Add(l5, l1), Avx.Add(l7, l3))));
        }
    }

    /// <summary>DotVecF32's four accumulators over n (a multiple of 32) elements, summed pairwise ((a0 + a2) + (a1 + a3)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector256<float> DotPairs(float* x, float* y, int n)
    {
        var a0 = Vector256<float>.Zero; var a1 = Vector256<float>.Zero; var a2 = Vector256<float>.Zero; var a3 = Vector256<float>.Zero;
        for (int i = 0; i < n; i += 32)
        {
            a0 = Fma.MultiplyAdd(Avx.LoadVector256(x + i), Avx.LoadVector256(y + i), a0);
            a1 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 8), Avx.LoadVector256(y + i + 8), a1);
            a2 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 16), Avx.LoadVector256(y + i + 16), a2);
            a3 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 24), Avx.LoadVector256(y + i + 24), a3);
        }
        return Avx.Add(Avx.Add(a0, a2), Avx.Add(a1, a3));
    }

    /// <summary>
    /// The rest of DotVecF32's reduction for eight keys at once: per key, (hi + lo) then two horizontal adds, which
    /// here run on eight vectors together and leave the sums as [s0 s2 s4 s6 | s1 s3 s5 s7], put back in order last.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ReduceVecDot8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7)
    {
        var t01 = Avx.Add(Avx.Permute2x128(r0, r1, 0x20), Avx.Permute2x128(r0, r1, 0x31));   // [lo+hi of r0 | of r1]
        var t23 = Avx.Add(Avx.Permute2x128(r2, r3, 0x20), Avx.Permute2x128(r2, r3, 0x31));
        var t45 = Avx.Add(Avx.Permute2x128(r4, r5, 0x20), Avx.Permute2x128(r4, r5, 0x31));
        var t67 = Avx.Add(Avx.Permute2x128(r6, r7, 0x20), Avx.Permute2x128(r6, r7, 0x31));
        var h = Avx.HorizontalAdd(Avx.HorizontalAdd(t01, t23), Avx.HorizontalAdd(t45, t67));
        return Avx2.PermuteVar8x32(h, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
    }

    /// <summary>ggml_vec_dot_f32 on AVX2 (vectorised): four 8-lane FMA accumulators over 32-element steps, GGML_F32_VEC_REDUCE, scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe float DotVecF32(float* x, float* y, int n)
    {
        int np = n & ~31;
        var r = DotPairs(x, y, np);
        var t = Sse.Add(r.GetLower(), r.GetUpper());
        t = Sse3.HorizontalAdd(t, t);
        float sum = Sse3.HorizontalAdd(t, t).ToScalar();
        for (int i = np; i < n; i++) sum = MathF.FusedMultiplyAdd(x[i], y[i], sum);
        return sum;
    }

    /// <summary>
    /// GGML_F32_VEC_REDUCE of ggml_vec_dot_f32 for each of <paramref name="n"/> outputs whose 32 lanes lie at
    /// lanes[t * n + e]: accumulators 0+2 and 1+3 summed, then those two, then four lanes and two horizontal adds.
    /// </summary>
    private static unsafe void ReduceVecDotLanes(float* lanes, int n, float* y)
    {
        float* r = stackalloc float[8];
        for (int e = 0; e < n; e++)
        {
            for (int t = 0; t < 8; t++)
                r[t] = (lanes[t * n + e] + lanes[(16 + t) * n + e]) + (lanes[(8 + t) * n + e] + lanes[(24 + t) * n + e]);
            float t0 = r[0] + r[4], t1 = r[1] + r[5], t2 = r[2] + r[6], t3 = r[3] + r[7];
            y[e] = (t0 + t1) + (t2 + t3);
        }
    }

    /// <summary>ggml_vec_dot_f32 on AVX2: four 8-lane FMA accumulators over 32-element steps, GGML_F32_VEC_REDUCE, scalar tail.</summary>
    private static float DotVecF32(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int n = x.Length, np = n & ~31;
        Span<float> acc = stackalloc float[32];
        acc.Clear();
        for (int i = 0; i < np; i += 32)
            for (int t = 0; t < 32; t++) acc[t] = MathF.FusedMultiplyAdd(x[i + t], y[i + t], acc[t]);
        // x[0] += x[2], x[1] += x[3]; x[0] += x[1]; then (lo + hi) and two horizontal adds.
        Span<float> r = stackalloc float[8];
        for (int t = 0; t < 8; t++) r[t] = (acc[t] + acc[16 + t]) + (acc[8 + t] + acc[24 + t]);
        float t0 = r[0] + r[4], t1 = r[1] + r[5], t2 = r[2] + r[6], t3 = r[3] + r[7];
        float sum = (t0 + t1) + (t2 + t3);
        for (int i = np; i < n; i++) sum = MathF.FusedMultiplyAdd(x[i], y[i], sum);
        return sum;
    }

    /// <summary>One query head of one token against its slot's cached keys: causal, optionally windowed and soft-capped.</summary>
    private void Attend(int l, int i, int h)
    {
        var c = _c;
        int d = c.HeadDim, dv = c.ValueDim;
        int p = _posOf[i], s = l * _slots + _slotOf[i], g = h / (c.Heads / c.KvHeads);
        int lo = 0;
        if (c.SlidingWindow > 0 && c.SlidingLayers != null && c.SlidingLayers[l]) lo = Math.Max(0, p - c.SlidingWindow + 1);
        int count = p - lo + 1;
        int need = count + Math.Max(d, dv);
        if (_scratch == null || _scratch.Length < need) _scratch = new float[Math.Max(need, 1024)];
        var scores = _scratch.AsSpan(0, count);
        var row = _scratch.AsSpan(count, Math.Max(d, dv));
        var q = _q.AsSpan(i * c.QueryWidth + h * d, d);
        float scale = c.AttentionScale, cap = c.AttentionSoftCap;
        long kBase = (long)g * _capacity * d, vBase = (long)g * _capacity * dv;
        for (int j = 0; j < count; j++)
        {
            int at = (int)(kBase + (long)(lo + j) * d);
            float dot;
            if (_k32 != null) dot = TensorPrimitives.Dot(q, _k32[s].AsSpan(at, d));
            else
            {
                TensorPrimitives.ConvertToSingle(_k16![s].AsSpan(at, d), row[..d]);
                dot = TensorPrimitives.Dot(q, row[..d]);
            }
            scores[j] = cap > 0 ? MathF.Tanh(dot * scale * (1f / cap)) * cap : dot * scale;
        }
        // Softmax as ggml computes it: subtract the max, f32 exponentials, double sum.
        float max = TensorPrimitives.Max(scores);
        double sum = 0;
        for (int j = 0; j < count; j++)
        {
            float e = MathF.Exp(scores[j] - max);
            scores[j] = e;
            sum += e;
        }
        TensorPrimitives.Multiply(scores, (float)(1.0 / sum), scores);
        var y = _att.AsSpan(i * c.Heads * dv + h * dv, dv);
        y.Clear();
        for (int j = 0; j < count; j++)
        {
            int at = (int)(vBase + (long)(lo + j) * dv);
            if (_v32 != null) TensorPrimitives.MultiplyAdd(_v32[s].AsSpan(at, dv), scores[j], y, y);
            else
            {
                TensorPrimitives.ConvertToSingle(_v16![s].AsSpan(at, dv), row[..dv]);
                TensorPrimitives.MultiplyAdd(row[..dv], scores[j], y, y);
            }
        }
    }

    /// <summary>Prefill runs of at least this many tokens of one slot attend through two GEMMs per head.</summary>
    private const int BlockAttentionMin = 8;
    private int[] _single = [];

    /// <summary>
    /// Attention of every token: runs of consecutive tokens of one slot (prefill) as Q·Kᵀ and P·V GEMMs, one head per
    /// parallel work item; lone tokens (decode) one (token, head) pair at a time in parallel.
    /// </summary>
    private void Attention(int l, int n)
    {
        if (_single.Length < n) _single = new int[_bufTokens];
        int singles = 0;
        for (int i = 0; i < n;)
        {
            int j = i + 1;
            while (j < n && _slotOf[j] == _slotOf[i]) j++;
            if (j - i >= BlockAttentionMin && _k32 == null) ComputePool.For(_c.Heads, new BlockAttentionBody { Batch = this, Layer = l, First = i, End = j }, _c.Heads);
            else for (int t = i; t < j; t++) _single[singles++] = t;
            i = j;
        }
        // llama.cpp dots a one-token chunk's scores as tinyBLAS does and a longer chunk's as ggml_vec_dot_f32; an
        // invariant batch always takes the second, whatever else is in the chunk.
        _oneTokenChunk = n == 1 && !_invariant;
        // Pairs in chunks of about four, taken as threads come free: tokens at different positions cost different
        // amounts, and a thread the machine preempts then holds up only its own few pairs.
        int pairs = singles * _c.Heads;
        if (singles > 0) ComputePool.For(pairs, new AttentionBody { Batch = this, Layer = l }, Math.Max(ComputePool.Threads, pairs / 4));
    }

    [ThreadStatic] private static float[]? _blockScores, _blockKeys, _blockValues;

    /// <summary>Head <paramref name="h"/> of tokens [i0, i1) of one slot, at consecutive positions, against that slot's cache.</summary>
    private unsafe void AttendBlock(int l, int i0, int i1, int h)
    {
        var c = _c;
        int d = c.HeadDim, dv = c.ValueDim, nq = i1 - i0;
        int s = l * _slots + _slotOf[i0], pFirst = _posOf[i0], pLast = _posOf[i1 - 1];
        bool sliding = c.SlidingWindow > 0 && c.SlidingLayers != null && c.SlidingLayers[l];
        int lo = sliding ? Math.Max(0, pFirst - c.SlidingWindow + 1) : 0;
        int nk = pLast + 1 - lo;
        int g = h / (c.Heads / c.KvHeads);
        float scale = c.AttentionScale, cap = c.AttentionSoftCap;
        var scoreBuf = Grow(ref _blockScores, nq * nk);
        long kAt = ((long)g * _capacity + lo) * d, vAt = ((long)g * _capacity + lo) * dv;
        float[] keys, values;
        if (_k32 != null) { keys = _k32[s]; values = _v32![s]; }
        else
        {
            // An f16 cache: widen this group's visible keys and values once for the two GEMMs.
            keys = Grow(ref _blockKeys, nk * d);
            values = Grow(ref _blockValues, nk * dv);
            TensorPrimitives.ConvertToSingle(_k16![s].AsSpan((int)kAt, nk * d), keys.AsSpan(0, nk * d));
            TensorPrimitives.ConvertToSingle(_v16![s].AsSpan((int)vAt, nk * dv), values.AsSpan(0, nk * dv));
            kAt = vAt = 0;
        }
        fixed (float* q = _q, kc = keys, vc = values, att = _att, scores = scoreBuf)
        {
            // scores (nq, nk) = Q_h (nq, D) · K_gᵀ over cached positions [lo, pLast].
            Loom.Tensors.Kernels.Gemm.Sgemm(false, true, nq, nk, d, 1f, q + (long)i0 * c.QueryWidth + h * d, c.QueryWidth,
                kc + kAt, d, 0f, scores, nk);
            for (int r = 0; r < nq; r++)
            {
                int p = pFirst + r;
                int a = (sliding ? Math.Max(0, p - c.SlidingWindow + 1) : 0) - lo, b = p - lo;   // visible keys [a, b]
                var row = new Span<float>(scores + (long)r * nk, nk);
                var vis = row[a..(b + 1)];
                if (cap > 0)
                {
                    TensorPrimitives.Multiply(vis, scale / cap, vis);
                    TensorPrimitives.Tanh(vis, vis);
                    TensorPrimitives.Multiply(vis, cap, vis);
                }
                else TensorPrimitives.Multiply(vis, scale, vis);
                float max = TensorPrimitives.Max(vis);
                TensorPrimitives.Subtract(vis, max, vis);
                TensorPrimitives.Exp(vis, vis);
                TensorPrimitives.Multiply(vis, 1f / TensorPrimitives.Sum(vis), vis);
                row[..a].Clear();
                row[(b + 1)..].Clear();
            }
            // out (nq, Dv) = P (nq, nk) · V_g (nk, Dv), written into the head's columns of att.
            Loom.Tensors.Kernels.Gemm.Sgemm(false, false, nq, dv, nk, 1f, scores, nk, vc + vAt, dv,
                0f, att + (long)i0 * c.Heads * dv + h * dv, c.Heads * dv);
        }
    }

    private static float[] Grow(ref float[]? buffer, int length)
    {
        if (buffer == null || buffer.Length < length) buffer = new float[Math.Max(length, (buffer?.Length ?? 0) * 2)];
        return buffer;
    }

    private struct BlockAttentionBody : IRangeBody
    {
        public DecoderBatch Batch;
        public int Layer, First, End;

        public readonly void Run(int start, int end)
        {
            for (int h = start; h < end; h++) Batch.AttendBlock(Layer, First, End, h);
        }
    }

    private struct AttentionBody : IRangeBody
    {
        public DecoderBatch Batch;
        public int Layer;

        public readonly void Run(int start, int end)
        {
            int heads = Batch._c.Heads;
            if (Batch._k32 != null) for (int w = start; w < end; w++) Batch.AttendF32(Layer, Batch._single[w / heads], w % heads);
            else for (int w = start; w < end; w++) Batch.Attend(Layer, Batch._single[w / heads], w % heads);
        }
    }

    /// <summary>Rotates one head in place: adjacent pairs (normal) or split halves (NeoX) over the first RopeDim dimensions.</summary>
    private void Rope(Span<float> x, float[] table, int pos)
    {
        int half = _c.RopeDim / 2;
        var cs = table.AsSpan(pos * half * 2, half * 2);
        if (_c.RopeStyle == RopeStyle.Normal)
        {
            for (int i = 0; i < half; i++)
            {
                float cos = cs[2 * i], sin = cs[2 * i + 1];
                float x0 = x[2 * i], x1 = x[2 * i + 1];
                // As ggml-cpu's compiled rotate_pairs (haswell build, adjacent pairs): x1*sin and x1*cos rounded, x0's products fused.
                x[2 * i] = MathF.FusedMultiplyAdd(x0, cos, -(x1 * sin));
                x[2 * i + 1] = MathF.FusedMultiplyAdd(x0, sin, x1 * cos);
            }
        }
        else
        {
            for (int i = 0; i < half; i++)
            {
                float cos = cs[2 * i], sin = cs[2 * i + 1];
                float x0 = x[i], x1 = x[i + half];
                // As ggml-cpu's compiled rotate_pairs (scalar for split halves): one product rounded, one fused.
                x[i] = MathF.FusedMultiplyAdd(x0, cos, -(x1 * sin));
                x[i + half] = MathF.FusedMultiplyAdd(x0, sin, x1 * cos);
            }
        }
    }

    /// <summary>y = x / sqrt(mean(x²) + eps) · w, the sum of squares in double as ggml's rms_norm.</summary>
    internal static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, float eps)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += x[i] * x[i];
        float mean = (float)(sum / x.Length);
        float scale = 1f / MathF.Sqrt(mean + eps);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * w[i];
    }

    private static void RmsNormRows(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, int rows, int width, float eps)
    {
        for (int r = 0; r < rows; r++) RmsNorm(x.Slice(r * width, width), w, y.Slice(r * width, width), eps);
    }

    private static void AddRows(Span<float> x, ReadOnlySpan<float> bias, int rows)
    {
        int w = bias.Length;
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(x.Slice(r * w, w), bias, x.Slice(r * w, w));
    }

    /// <summary>gate = silu(gate) · up.</summary>
    private void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        // ggml_vec_swiglu_f32: ggml_v_silu (its own expf) times up, rounded as llama.cpp rounds it.
        // Per row of FfnDim, as ggml runs it: vector lanes through ggml_v_silu, a row's tail through libm's expf.
        int f = _c.FfnDim;
        for (int r = 0; r < gate.Length; r += f) GgmlMath.SwiGlu(gate.Slice(r, f), up.Slice(r, f));
    }

    /// <summary>gate = gelu_tanh(gate) · up, through ggml's f16 GELU table (input and output rounded to f16).</summary>
    private static void GeGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++) gate[i] = GeluF16(gate[i]) * up[i];
    }

    internal static float GeluF16(float x)
    {
        if (x <= -10f) return 0f;
        if (x >= 10f) return x;
        float h = (float)(Half)x;
        const float A = 0.044715f, S = 0.79788456080286535587989211986876f;
        return (float)(Half)(0.5f * h * (1f + MathF.Tanh(S * h * (1f + A * h * h))));
    }

    public void Dispose() { }
}
