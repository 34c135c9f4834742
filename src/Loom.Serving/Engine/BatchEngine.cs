using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Loom.Models.Generation;
using Loom.Models.Inference;
using Loom.Tensors;
using Loom.Text.Sampling;

namespace Loom.Serving.Engine;

/// <summary>
/// Continuous batching over one <see cref="IBatchedLm"/>: a single background loop owns the model; requests wait
/// in a bounded queue, take a free KV slot (the one sharing the longest prefix with their prompt, so a multi-turn
/// chat does not re-read its history), and join the running batch between steps. Each step is one forward pass
/// with one row per active sequence: a prompt chunk for a new one, its last token for a decoding one.
/// </summary>
public sealed class BatchEngine : IDisposable
{
    private readonly ServedModel _model;
    private readonly IBatchedLm _lm;
    private readonly EngineOptions _options;
    private readonly ConcurrentQueue<Sequence> _queue = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly ConcurrentQueue<(int[] Tokens, TaskCompletionSource<float[]> Done)> _embeds = new();
    private readonly List<int>[] _slotTokens;     // what each slot's KV cache holds, kept after a sequence ends
    private readonly long[] _slotUsed;            // step at which each slot was last released (LRU among equals)
    private readonly Sequence?[] _slotOwner;
    private readonly List<Sequence> _active = new();
    private readonly Thread _loop;
    private volatile bool _stopping;
    private int _queued;
    private long _clock;

    public BatchEngine(ServedModel model, EngineOptions options)
    {
        if (options.Slots < 1) throw new ArgumentOutOfRangeException(nameof(options), "--parallel must be at least 1");
        if (options.ContextLength < 0) throw new ArgumentOutOfRangeException(nameof(options), "--ctx-size must be >= 0");
        if (options.ContextLength > model.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(options), $"--ctx-size {options.ContextLength} is longer than model {model.Name}'s trained context of {model.ContextLength}");
        _model = model;
        _options = options;
        int ctx = options.ContextLength > 0 ? options.ContextLength : model.ContextLength;
        // Bound the KV cache by memory: at most half of what the GC may use.
        long budget = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        long perToken = Math.Max(1, model.KvBytesPerToken) * options.Slots;
        if (ctx * perToken > budget)
        {
            if (options.ContextLength > 0)
                throw new ArgumentOutOfRangeException(nameof(options), $"--ctx-size {ctx} x --parallel {options.Slots} needs {ctx * perToken >> 20} MiB of KV cache; at most {budget >> 20} MiB is available");
            ctx = (int)Math.Max(16, budget / perToken);
        }
        ContextLength = ctx;
        KvBytes = ctx * perToken;
        _lm = model.CreateBatch(options.Slots, ctx);
        _slotTokens = new List<int>[options.Slots];
        for (int i = 0; i < options.Slots; i++) _slotTokens[i] = new List<int>();
        _slotUsed = new long[options.Slots];
        _slotOwner = new Sequence?[options.Slots];
        _loop = new Thread(Run) { IsBackground = true, Name = $"loom-batch-{model.Name}" };
        _loop.Start();
    }

    public ServedModel Model => _model;
    public EngineOptions Options => _options;
    /// <summary>Tokens one slot holds.</summary>
    public int ContextLength { get; }
    /// <summary>Bytes of the whole KV cache (all slots at full context).</summary>
    public long KvBytes { get; }
    public int QueueLength => Volatile.Read(ref _queued);
    public int ActiveSequences { get; private set; }
    public EngineMetrics Metrics { get; } = new();

    /// <summary>
    /// Queues a sequence; its events arrive on the returned reader, ending with one whose <c>Done</c> is set.
    /// Throws <see cref="PromptTooLongException"/> or <see cref="QueueFullException"/> at once.
    /// </summary>
    public ChannelReader<GenerationEvent> Submit(GenerationRequest request, CancellationToken cancel = default)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var prompt = request.Prompt;
        if (prompt.Length == 0)
        {
            // An empty prompt means unconditional generation: start from the document separator.
            if ((_model.Tokenizer.BosId ?? _model.Tokenizer.EosId) is int start) prompt = [start];
            else throw new ArgumentException("the prompt is empty and the tokenizer has no BOS or end-of-text token to start from");
        }
        if (prompt.Length >= ContextLength) throw new PromptTooLongException(prompt.Length, ContextLength - 1);
        if (request.MaxTokens < 0) throw new ArgumentOutOfRangeException(nameof(request), "max tokens must be >= 0");
        if (Interlocked.Increment(ref _queued) > _options.QueueCapacity)
        {
            Interlocked.Decrement(ref _queued);
            Metrics.OnRejected();
            throw new QueueFullException(_options.QueueCapacity);
        }
        var seq = new Sequence(request, prompt, cancel, Stopwatch.GetTimestamp() + (long)((request.TimeLimit ?? _options.RequestTimeLimit).TotalSeconds * Stopwatch.Frequency));
        _queue.Enqueue(seq);
        _wake.Release();
        return seq.Events.Reader;
    }

    private void Run()
    {
        int vocab = _lm.VocabSize;
        var rows = new List<BatchRow>();
        var rowSeq = new List<(Sequence Seq, int Count)>();
        float[] logits = [];
        while (!_stopping)
        {
            try { Step(vocab, rows, rowSeq, ref logits); }
            catch (Exception e)
            {
                // Whatever went wrong, the loop must live on: end the sequences it was running with the error.
                foreach (var s in _active.ToArray()) Fail(s, e);
            }
        }
        foreach (var s in _active.ToArray()) Finish(s, "cancelled");
        while (_queue.TryDequeue(out var q)) q.Events.Writer.TryComplete(new ObjectDisposedException(nameof(BatchEngine)));
        while (_embeds.TryDequeue(out var e)) e.Done.TrySetException(new ObjectDisposedException(nameof(BatchEngine)));
    }

    /// <summary>One iteration: embeddings, admission, then one forward pass over every active sequence.</summary>
    private void Step(int vocab, List<BatchRow> rows, List<(Sequence Seq, int Count)> rowSeq, ref float[] logits)
    {
        RunEmbeddings();
        Admit();
        if (_active.Count == 0)
        {
            _wake.Wait(200);
            return;
        }
        rows.Clear();
        rowSeq.Clear();
        long now = Stopwatch.GetTimestamp();
        for (int i = _active.Count - 1; i >= 0; i--)
        {
            var s = _active[i];
            if (s.Cancel.IsCancellationRequested) Finish(s, "cancelled");
            else if (now > s.Deadline) Finish(s, "length", timedOut: true);
        }
        // Decoding rows first (one token each), then prompt chunks within the step's budget.
        foreach (var s in _active)
            if (s.Fed == s.Prompt.Length) { rows.Add(new BatchRow(s.Slot, new[] { s.LastToken })); rowSeq.Add((s, 1)); }
        int budget = Math.Max(1, _options.PrefillChunk - rows.Count);
        foreach (var s in _active)
        {
            if (s.Fed == s.Prompt.Length || budget <= 0) continue;
            int n = Math.Min(budget, s.Prompt.Length - s.Fed);
            budget -= n;
            rows.Add(new BatchRow(s.Slot, s.Prompt.AsMemory(s.Fed, n)));
            rowSeq.Add((s, n));
        }
        if (rows.Count == 0) return;
        if (logits.Length < rows.Count * vocab) logits = new float[rows.Count * vocab];
        var stepStart = Stopwatch.GetTimestamp();
        try
        {
            _lm.Forward(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(rows), logits.AsSpan(0, rows.Count * vocab));
        }
        catch (Exception e)
        {
            // A failed pass leaves the slots' caches in an unknown state: end every active sequence with the error.
            foreach (var s in _active.ToArray()) Fail(s, e);
            return;
        }
        Metrics.OnStep(rows.Count, Stopwatch.GetElapsedTime(stepStart).TotalSeconds);
        _sampling.Clear();
        for (int r = 0; r < rows.Count; r++)
        {
            var (s, n) = rowSeq[r];
            var fed = rows[r].Tokens.Span;
            foreach (var t in fed) _slotTokens[s.Slot].Add(t);
            if (s.Fed < s.Prompt.Length)
            {
                s.Fed += n;
                if (s.Fed < s.Prompt.Length) continue;   // more prompt to read before the first token
            }
            if (s.Request.MaxTokens == 0) { Finish(s, "length"); continue; }
            s.Row = r;
            _sampling.Add(s);
        }
        // Sampling (a top-k pass over the vocabulary per row) in parallel: each sequence has its own sampler and RNG,
        // so the order does not matter; then the tokens are sent in row order on this thread.
        _logits = logits;
        _vocab = vocab;
        ComputePool.For(_sampling.Count, new SampleBody { Engine = this });
        foreach (var s in _sampling) Emit(s);
    }

    private readonly List<Sequence> _sampling = new();
    private float[] _logits = [];
    private int _vocab;

    private struct SampleBody : IRangeBody
    {
        public BatchEngine Engine;

        public readonly void Run(int start, int end)
        {
            var e = Engine;
            for (int i = start; i < end; i++) e.Choose(e._sampling[i]);
        }
    }

    /// <summary>Samples a sequence's next token from its row's logits (any thread; touches only this sequence).</summary>
    private void Choose(Sequence s)
    {
        var logits = _logits.AsSpan(s.Row * _vocab, _vocab);
        if (s.Request.TopLogprobs >= 0) s.LogSoftmax(logits);
        s.Chosen = s.Sampler.Sample(logits, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(s.History));
    }

    /// <summary>
    /// Embeds tokens on the loop thread, between batch steps: the model is not used by two threads at once.
    /// </summary>
    public Task<float[]> EmbedAsync(int[] tokens)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (!_model.CanEmbed) throw new NotSupportedException($"model {_model.Name} does not provide embeddings");
        if (tokens.Length > ContextLength) throw new PromptTooLongException(tokens.Length, ContextLength);
        var done = new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        _embeds.Enqueue((tokens, done));
        _wake.Release();
        return done.Task;
    }

    private void RunEmbeddings()
    {
        while (_embeds.TryDequeue(out var e))
        {
            try { e.Done.SetResult(_model.Embed(e.Tokens)); }
            catch (Exception ex) { e.Done.SetException(ex); }
        }
    }

    /// <summary>Moves waiting requests into free slots, choosing the free slot that shares the longest prefix.</summary>
    private void Admit()
    {
        while (_active.Count < _slotOwner.Length && _queue.TryDequeue(out var s))
        {
            Interlocked.Decrement(ref _queued);
            if (s.Cancel.IsCancellationRequested) { s.Events.Writer.TryComplete(new OperationCanceledException(s.Cancel)); continue; }
            int best = -1, bestCommon = -1;
            for (int slot = 0; slot < _slotOwner.Length; slot++)
            {
                if (_slotOwner[slot] != null) continue;
                int common = CommonPrefix(_slotTokens[slot], s.Prompt);
                if (common > bestCommon || (common == bestCommon && _slotUsed[slot] < _slotUsed[best])) { best = slot; bestCommon = common; }
            }
            // At least the last prompt token must be fed again to get the logits of the first generated token.
            int keep = Math.Min(bestCommon, s.Prompt.Length - 1);
            _lm.TruncateSlot(best, keep);
            _slotTokens[best].RemoveRange(keep, _slotTokens[best].Count - keep);
            _slotOwner[best] = s;
            s.Slot = best;
            s.Fed = keep;
            s.Cached = keep;
            s.History.AddRange(s.Prompt);
            _active.Add(s);
            Metrics.OnAdmitted(s.Prompt.Length, keep);
        }
        ActiveSequences = _active.Count;
    }

    private static int CommonPrefix(List<int> a, int[] b)
    {
        int n = Math.Min(a.Count, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /// <summary>Sends on the token <see cref="Choose"/> sampled.</summary>
    private void Emit(Sequence s)
    {
        var req = s.Request;
        TokenLogprob? chosen = null;
        TokenLogprob[]? top = null;
        int token = s.Chosen;
        if (s.Generated == 0)
        {
            s.FirstTokenSeconds = Stopwatch.GetElapsedTime(s.Started).TotalSeconds;
            Metrics.OnFirstToken(s.FirstTokenSeconds);
        }
        var tok = _model.Tokenizer;
        if (tok.EndOfGeneration.Contains(token)) { Finish(s, "stop"); return; }
        if (req.TopLogprobs >= 0)
        {
            chosen = Describe(token, s.LogProbs![token]);
            if (req.TopLogprobs > 0) top = s.Top(req.TopLogprobs, this);
        }
        s.Generated++;
        Metrics.OnGenerated();
        s.History.Add(token);
        string text = s.Stream.Push(tok.DecodeBytes([token]));
        s.Events.Writer.TryWrite(new GenerationEvent(text, token, chosen, top, null));
        if (s.Stream.Stopped) Finish(s, "stop");
        else if (s.Generated >= req.MaxTokens || _slotTokens[s.Slot].Count + 1 > ContextLength) Finish(s, "length");
        else s.LastToken = token;
    }

    internal TokenLogprob Describe(int id, float logprob)
    {
        var bytes = _model.Tokenizer.DecodeBytes([id]);
        return new TokenLogprob(id, System.Text.Encoding.UTF8.GetString(bytes), bytes, logprob);
    }

    private void Finish(Sequence s, string reason, bool timedOut = false)
    {
        string tail = reason is "cancelled" || s.Stream.Stopped ? "" : s.Stream.Flush();
        Release(s);
        var summary = new GenerationSummary(reason, s.Prompt.Length, s.Cached, s.Generated, s.FirstTokenSeconds, Stopwatch.GetElapsedTime(s.Started).TotalSeconds);
        if (timedOut) Metrics.OnTimedOut();
        if (reason == "cancelled") { Metrics.OnCancelled(); s.Events.Writer.TryComplete(new OperationCanceledException("the client went away")); return; }
        Metrics.OnCompleted();
        s.Events.Writer.TryWrite(GenerationEvent.Finished(tail, summary));
        s.Events.Writer.TryComplete();
    }

    private void Fail(Sequence s, Exception e)
    {
        Release(s);
        _lm.TruncateSlot(s.Slot, 0);
        _slotTokens[s.Slot].Clear();
        s.Events.Writer.TryComplete(e);
    }

    private void Release(Sequence s)
    {
        _active.Remove(s);
        _slotOwner[s.Slot] = null;
        _slotUsed[s.Slot] = ++_clock;
        ActiveSequences = _active.Count;
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Release();
        _loop.Join();
        _lm.Dispose();
        _wake.Dispose();
    }

    /// <summary>One sequence's state, touched only by the loop thread after admission.</summary>
    private sealed class Sequence(GenerationRequest request, int[] prompt, CancellationToken cancel, long deadline)
    {
        public GenerationRequest Request { get; } = request;
        public int[] Prompt { get; } = prompt;
        public CancellationToken Cancel { get; } = cancel;
        public long Deadline { get; } = deadline;
        public long Started { get; } = Stopwatch.GetTimestamp();
        public Channel<GenerationEvent> Events { get; } = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = true });
        public Sampler Sampler { get; } = new(request.Sampler);
        public Utf8Stream Stream { get; } = new(request.Stops);
        public List<int> History { get; } = new();
        public int Slot, Fed, Cached, Generated, LastToken;
        public int Row, Chosen;   // this step's row of the logits and the token sampled from it
        public double FirstTokenSeconds;
        public float[]? LogProbs;

        /// <summary>Keeps the model's log-probabilities of this row (the sampler then changes the logits in place).</summary>
        public void LogSoftmax(ReadOnlySpan<float> logits)
        {
            LogProbs ??= new float[logits.Length];
            float max = float.NegativeInfinity;
            foreach (var v in logits) max = MathF.Max(max, v);
            double sum = 0;
            foreach (var v in logits) sum += Math.Exp(v - max);
            float lse = max + (float)Math.Log(sum);
            for (int i = 0; i < logits.Length; i++) LogProbs[i] = logits[i] - lse;
        }

        public TokenLogprob[] Top(int k, BatchEngine engine)
        {
            var lp = LogProbs!;
            k = Math.Min(k, lp.Length);
            var best = new List<int>(k + 1);
            for (int i = 0; i < lp.Length; i++)
            {
                if (best.Count == k && lp[i] <= lp[best[^1]]) continue;
                int at = best.Count;
                while (at > 0 && lp[best[at - 1]] < lp[i]) at--;
                best.Insert(at, i);
                if (best.Count > k) best.RemoveAt(k);
            }
            return best.Select(i => engine.Describe(i, lp[i])).ToArray();
        }
    }
}
