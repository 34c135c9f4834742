using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Loom.Serving.Engine;
using Microsoft.AspNetCore.Http;

namespace Loom.Serving.Api;

/// <summary>
/// Runs the choices of one chat or text completion on the engine and answers in OpenAI's shapes: one JSON
/// object, or server-sent events ("data: {chunk}" ... "data: [DONE]").
/// </summary>
internal sealed class GenerationEndpoint(BatchEngine engine, GenerationArgs args, bool chat, string promptParam)
{
    private readonly string _id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N")[..24];
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private sealed class Choice
    {
        public int Index;
        public ChannelReader<GenerationEvent> Events = null!;
        public readonly StringBuilder Text = new();
        public readonly List<GenerationEvent> Tokens = new();
        public GenerationSummary? Summary;
    }

    public async Task RunAsync(HttpContext ctx, IReadOnlyList<int[]> prompts, IReadOnlyList<string> extraStops)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        var stops = args.Stops.Concat(extraStops).ToList();
        var choices = new List<Choice>();
        try
        {
            foreach (var prompt in prompts)
                for (int i = 0; i < args.N; i++)
                {
                    var request = new GenerationRequest
                    {
                        Prompt = prompt,
                        Sampler = args.Sampler with { Seed = args.Sampler.Seed + (ulong)i },
                        MaxTokens = args.MaxTokens ?? (chat ? engine.ContextLength : 16),
                        Stops = stops,
                        TopLogprobs = args.TopLogprobs,
                    };
                    choices.Add(new Choice { Index = choices.Count, Events = engine.Submit(request, cancel.Token) });
                }
        }
        catch (PromptTooLongException e)
        {
            cancel.Cancel();
            throw new ApiException(400, e.Message, promptParam, "context_length_exceeded");
        }
        catch (QueueFullException e)
        {
            cancel.Cancel();
            throw new ApiException(429, e.Message, null, "rate_limit_exceeded");
        }
        try
        {
            if (args.Stream) await StreamAsync(ctx, choices, cancel.Token);
            else await WholeAsync(ctx, choices, cancel.Token);
        }
        finally { cancel.Cancel(); }   // a failed choice or a client gone: free every slot
    }

    private async Task WholeAsync(HttpContext ctx, List<Choice> choices, CancellationToken ct)
    {
        foreach (var c in choices)
            await foreach (var e in c.Events.ReadAllAsync(ct))
            {
                c.Text.Append(e.Text);
                if (e.Done != null) c.Summary = e.Done;
                else if (e.Logprob != null) c.Tokens.Add(e);
            }
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, JsonOutput.Options))
        {
            w.WriteStartObject();
            Header(w, chat ? "chat.completion" : "text_completion");
            w.WriteStartArray("choices");
            foreach (var c in choices)
            {
                w.WriteStartObject();
                w.WriteNumber("index", c.Index);
                if (chat)
                {
                    w.WriteStartObject("message");
                    w.WriteString("role", "assistant");
                    w.WriteString("content", c.Text.ToString());
                    w.WriteNull("refusal");
                    w.WriteEndObject();
                }
                else w.WriteString("text", c.Text.ToString());
                WriteLogprobs(w, c.Tokens, 0);
                w.WriteString("finish_reason", c.Summary!.FinishReason);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            Usage(w, choices);
            w.WriteEndObject();
        }
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(ms.GetBuffer().AsMemory(0, (int)ms.Length), ct);
    }

    /// <summary>
    /// Server-sent events. Every token is its own event, but events that are already waiting are written and flushed
    /// together: under load (many streams on few cores) the writer falls behind the engine by a step or two and then
    /// pays one write and one flush for several tokens instead of one each.
    /// </summary>
    private async Task StreamAsync(HttpContext ctx, List<Choice> choices, CancellationToken ct)
    {
        // One choice reads its own channel; several are merged in arrival order.
        ChannelReader<(Choice Choice, GenerationEvent? Event, Exception? Error)> events;
        if (choices.Count == 1) events = new SingleChoiceReader(choices[0]);
        else
        {
            var merged = Channel.CreateUnbounded<(Choice Choice, GenerationEvent? Event, Exception? Error)>();
            var pumps = choices.Select(c => Task.Run(async () =>
            {
                try { await foreach (var e in c.Events.ReadAllAsync(ct)) await merged.Writer.WriteAsync((c, e, null), CancellationToken.None); }
                catch (Exception e) { await merged.Writer.WriteAsync((c, null, e), CancellationToken.None); }
            }, CancellationToken.None)).ToArray();
            _ = Task.WhenAll(pumps).ContinueWith(_ => merged.Writer.TryComplete(), TaskScheduler.Default);
            events = merged.Reader;
        }

        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
        var sse = new SseBuffer();
        if (chat)
            foreach (var c in choices) sse.Event(w => Chunk(w, c.Index, "", null, null, role: true));
        await sse.FlushAsync(ctx, ct);
        while (await events.WaitToReadAsync(ct))
        {
            while (events.TryRead(out var item))
            {
                var (c, e, error) = item;
                if (error != null)
                {
                    if (error is OperationCanceledException) return;   // the client went away
                    var api = new ApiException(500, $"generation failed: {error.Message}", null, "generation_failed");
                    sse.Event(api.WriteJson);
                    await sse.FlushAsync(ctx, ct);
                    return;
                }
                if (e!.Done != null) c.Summary = e.Done;
                if (e.Text.Length > 0 || e.Logprob != null || e.Done != null)
                    sse.Event(w => Chunk(w, c.Index, e.Text, e.Logprob != null ? [e] : null, e.Done?.FinishReason, role: false));
            }
            await sse.FlushAsync(ctx, ct);
        }
        if (args.IncludeUsage)
            sse.Event(w =>
            {
                w.WriteStartObject();
                Header(w, chat ? "chat.completion.chunk" : "text_completion");
                w.WriteStartArray("choices");
                w.WriteEndArray();
                Usage(w, choices);
                w.WriteEndObject();
            });
        sse.Raw("data: [DONE]\n\n"u8);
        await sse.FlushAsync(ctx, ct);
    }

    /// <summary>Events of one choice as the merged reader's items; a channel completed with an error yields that error once.</summary>
    private sealed class SingleChoiceReader(Choice choice) : ChannelReader<(Choice Choice, GenerationEvent? Event, Exception? Error)>
    {
        private Exception? _error;
        private bool _errorSent;

        public override bool TryRead(out (Choice Choice, GenerationEvent? Event, Exception? Error) item)
        {
            if (_error != null && !_errorSent) { _errorSent = true; item = (choice, null, _error); return true; }
            if (choice.Events.TryRead(out var e)) { item = (choice, e, null); return true; }
            item = default;
            return false;
        }

        public override async ValueTask<bool> WaitToReadAsync(CancellationToken ct = default)
        {
            if (_error != null) return !_errorSent;
            try { return await choice.Events.WaitToReadAsync(ct); }
            catch (Exception e)
            {
                _error = e;
                return true;
            }
        }
    }

    /// <summary>Server-sent events accumulated in one reused buffer, written and flushed together.</summary>
    private sealed class SseBuffer
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(1024);
        private readonly Utf8JsonWriter _json;

        public SseBuffer() => _json = new Utf8JsonWriter(_buffer, JsonOutput.Options);

        /// <summary>Appends "data: {json}" and the blank line that ends an event.</summary>
        public void Event(Action<Utf8JsonWriter> write)
        {
            _buffer.Write("data: "u8);
            _json.Reset(_buffer);
            write(_json);
            _json.Flush();
            _buffer.Write("\n\n"u8);
        }

        public void Raw(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

        public async Task FlushAsync(HttpContext ctx, CancellationToken ct)
        {
            if (_buffer.WrittenCount == 0) return;
            await ctx.Response.Body.WriteAsync(_buffer.WrittenMemory, ct);
            await ctx.Response.Body.FlushAsync(ct);
            _buffer.ResetWrittenCount();
        }
    }

    private void Chunk(Utf8JsonWriter w, int index, string text, List<GenerationEvent>? tokens, string? finish, bool role)
    {
        w.WriteStartObject();
        Header(w, chat ? "chat.completion.chunk" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        if (chat)
        {
            w.WriteStartObject("delta");
            if (role) w.WriteString("role", "assistant");
            if (role || text.Length > 0 || finish == null) w.WriteString("content", text);
            w.WriteEndObject();
        }
        else w.WriteString("text", text);
        WriteLogprobs(w, tokens ?? [], 0);
        if (finish != null) w.WriteString("finish_reason", finish); else w.WriteNull("finish_reason");
        w.WriteEndObject();
        w.WriteEndArray();
        if (args.IncludeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    private void Header(Utf8JsonWriter w, string obj)
    {
        w.WriteString("id", _id);
        w.WriteString("object", obj);
        w.WriteNumber("created", _created);
        w.WriteString("model", engine.Model.Name);
        w.WriteString("system_fingerprint", "loom");
    }

    private void Usage(Utf8JsonWriter w, List<Choice> choices)
    {
        // Like OpenAI: each prompt counted once, completions summed over choices.
        int prompt = 0, cached = 0, completion = 0;
        for (int i = 0; i < choices.Count; i++)
        {
            var s = choices[i].Summary;
            if (s == null) continue;
            if (i % args.N == 0) { prompt += s.PromptTokens; cached += s.CachedTokens; }
            completion += s.CompletionTokens;
        }
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", cached);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteLogprobs(Utf8JsonWriter w, List<GenerationEvent> tokens, int textOffset)
    {
        if (args.TopLogprobs < 0) { w.WriteNull("logprobs"); return; }
        w.WriteStartObject("logprobs");
        if (chat)
        {
            w.WriteStartArray("content");
            foreach (var e in tokens)
            {
                w.WriteStartObject();
                WriteToken(w, e.Logprob!.Value);
                w.WriteStartArray("top_logprobs");
                foreach (var t in e.TopLogprobs ?? [])
                {
                    w.WriteStartObject();
                    WriteToken(w, t);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("refusal");
        }
        else
        {
            w.WriteStartArray("tokens");
            foreach (var e in tokens) w.WriteStringValue(e.Logprob!.Value.Token);
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            foreach (var e in tokens) w.WriteNumberValue(e.Logprob!.Value.Logprob);
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (var e in tokens)
            {
                w.WriteStartObject();
                foreach (var t in e.TopLogprobs ?? []) w.WriteNumber(t.Token, t.Logprob);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("text_offset");
            int offset = textOffset;
            foreach (var e in tokens) { w.WriteNumberValue(offset); offset += e.Logprob!.Value.Token.Length; }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteToken(Utf8JsonWriter w, TokenLogprob t)
    {
        w.WriteString("token", t.Token);
        w.WriteNumber("logprob", float.IsFinite(t.Logprob) ? t.Logprob : -9999f);
        w.WriteStartArray("bytes");
        foreach (var b in t.Bytes) w.WriteNumberValue(b);
        w.WriteEndArray();
    }
}
