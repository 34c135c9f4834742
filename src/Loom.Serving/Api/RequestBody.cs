using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Loom.Serving.Api;

/// <summary>
/// Reads a request body as JSON under the server's size limit. An oversized body is read to its end and dropped before
/// the 413 is sent: a client that does not send "Expect: 100-continue" (most HTTP libraries) is still writing it, and
/// a server that answers and closes mid-body leaves that client with a broken pipe instead of the error. Kestrel's own
/// limit sits at <see cref="HardLimit"/>, so a hostile body is never read without bound.
/// </summary>
internal static class RequestBody
{
    /// <summary>The most bytes the server reads of one body, counting an oversized one it drains: 4x the limit, at least 16 MiB.</summary>
    public static long HardLimit(long limit) => limit > 1L << 40 ? limit : Math.Max(4 * limit, limit + (16L << 20));

    /// <summary>Parses the body; 413 past <paramref name="limit"/>, 400 for anything that is not JSON.</summary>
    public static async Task<JsonDocument> ReadJson(HttpContext ctx, long limit)
    {
        if (ctx.Request.ContentLength is long declared && declared > limit)
        {
            // A client that asked "Expect: 100-continue" has not sent the body and will not, unless reading it here
            // made Kestrel invite it to: answer at once.
            if (!ctx.Request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase)) await Drain(ctx);
            throw TooLarge(string.Create(CultureInfo.InvariantCulture, $"{declared:N0} bytes declared"), limit);
        }
        var body = new LimitedStream(ctx.Request.Body, limit);
        try
        {
            return await JsonDocument.ParseAsync(body, new JsonDocumentOptions { MaxDepth = 64 }, ctx.RequestAborted);
        }
        catch (BodyTooLargeException)
        {
            await Drain(ctx);
            throw TooLarge("more sent", limit);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(e.Message, limit);
        }
        catch (JsonException e)
        {
            throw new ApiException(400, $"the request body is not valid JSON: {e.Message}", null, "invalid_json");
        }
    }

    private static ApiException TooLarge(string what, long limit) =>
        new(413, string.Create(CultureInfo.InvariantCulture,
            $"the request body is larger than the server's limit of {limit:N0} bytes ({what}); serve with a larger --max-body"), null, "request_too_large");

    /// <summary>Reads what is left of the body and drops it; stops quietly at Kestrel's hard limit or a broken connection.</summary>
    private static async Task Drain(HttpContext ctx)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            while (await ctx.Request.Body.ReadAsync(buffer, ctx.RequestAborted) > 0) { }
        }
        catch (BadHttpRequestException) { }
        catch (IOException) { }
        catch (OperationCanceledException) { }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    private sealed class BodyTooLargeException : Exception;

    /// <summary>A read-only view of the body that throws once more than <c>limit</c> bytes have come through (bodies without a Content-Length).</summary>
    private sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => Count(await inner.ReadAsync(buffer, ct));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        private int Count(int n)
        {
            _read += n;
            if (_read > limit) throw new BodyTooLargeException();
            return n;
        }
    }
}
