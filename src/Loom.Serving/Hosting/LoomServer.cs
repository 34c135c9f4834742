using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Loom.Serving.Api;
using Loom.Serving.Engine;
using Loom.Serving.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Loom.Serving.Hosting;

/// <summary>
/// The HTTP server of `loom serve`: Kestrel with OpenAI's endpoints over one batching engine per model, the chat
/// page at "/", /health and /metrics. Errors always come back in OpenAI's shape; nothing a client sends is a 500.
/// </summary>
public sealed class LoomServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<BatchEngine> _engines;
    private readonly ServerMetrics _metrics = new();
    private readonly byte[][] _keyHashes;

    private LoomServer(WebApplication app, List<BatchEngine> engines, ServerOptions options)
    {
        _app = app;
        _engines = engines;
        _keyHashes = options.ApiKeys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k))).ToArray();
    }

    public IReadOnlyList<BatchEngine> Engines => _engines;
    /// <summary>The address the server listens on, e.g. http://127.0.0.1:8080.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Loads the models, builds their engines and starts listening.</summary>
    public static async Task<LoomServer> StartAsync(ServerOptions options, IReadOnlyList<ServedModel>? loaded = null)
    {
        // The compute workers share the cores with Kestrel's and the clients' threads: spin only briefly after a step
        // (measured on 2 cores: 20,000 spins left 8 streaming clients at 2,600 tokens/s, 2,000 gave 3,100-4,600).
        if (Environment.GetEnvironmentVariable("LOOM_SPIN") == null) Loom.Tensors.ComputePool.SpinIterations = Math.Min(Loom.Tensors.ComputePool.SpinIterations, 2000);
        var models = loaded?.ToList() ?? options.Models.Select(p => ServedModel.Load(p)).ToList();
        if (models.Count == 0) throw new ArgumentException("no model to serve");
        var dup = models.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"two models are named '{dup.Key}'; give them different file or folder names");
        var engines = new List<BatchEngine>();
        foreach (var m in models)
        {
            var engine = new BatchEngine(m, new EngineOptions
            {
                Slots = options.Parallel, ContextLength = options.ContextSize, QueueCapacity = options.QueueCapacity, RequestTimeLimit = options.RequestTimeLimit,
            });
            engines.Add(engine);
            options.Log?.Invoke($"model {m.Name}: context {engine.ContextLength} tokens (trained {m.ContextLength}), {options.Parallel} slots, " +
                                $"KV cache {engine.KvBytes / (1024.0 * 1024.0):F1} MiB ({m.KvBytesPerToken} bytes/token), queue {options.QueueCapacity}");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            // The API enforces MaxBodyBytes itself, draining an oversized body before its 413 (see RequestBody).
            k.Limits.MaxRequestBodySize = Api.RequestBody.HardLimit(options.MaxBodyBytes);
            k.AddServerHeader = false;
            if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else if (IPAddress.TryParse(options.Host, out var ip)) k.Listen(ip, options.Port);
            else throw new ArgumentException($"--host {options.Host}: not an IP address or 'localhost'");
        });
        var app = builder.Build();
        var server = new LoomServer(app, engines, options);
        server.Map(app, options.MaxBodyBytes);
        try { await app.StartAsync(); }
        catch
        {
            foreach (var e in engines) e.Dispose();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = new Uri(address.Replace("[::]", "localhost").Replace("0.0.0.0", "127.0.0.1"));
        options.Log?.Invoke($"listening on {server.Url}  (chat page: {server.Url}, API: {server.Url}v1)");
        return server;
    }

    private void Map(WebApplication app, long maxBodyBytes)
    {
        app.Use(async (ctx, next) =>
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                if (ctx.Request.Path.StartsWithSegments("/v1") && _keyHashes.Length > 0 && !Authorized(ctx))
                    throw new ApiException(401, "missing or invalid API key: send 'Authorization: Bearer KEY'", null, "invalid_api_key");
                await next(ctx);
            }
            catch (ApiException e) when (!ctx.Response.HasStarted) { await e.WriteAsync(ctx); }
            catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { }
            catch (Exception e) when (!ctx.Response.HasStarted)
            {
                await new ApiException(500, $"internal error: {e.GetType().Name}: {e.Message}", null, "internal_error").WriteAsync(ctx);
            }
            finally { _metrics.Request(ctx.Request.Path, ctx.Response.StatusCode, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds); }
        });

        var api = new OpenAiApi(_engines, maxBodyBytes);
        app.MapGet("/v1/models", api.Models);
        app.MapGet("/v1/models/{id}", (HttpContext ctx, string id) => api.Model(ctx, id));
        app.MapPost("/v1/chat/completions", api.ChatCompletions);
        app.MapPost("/v1/completions", api.Completions);
        app.MapPost("/v1/embeddings", api.Embeddings);
        app.MapGet("/health", async ctx =>
        {
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync("{\"status\":\"ok\"}");
        });
        app.MapGet("/metrics", async ctx =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4";
            await ctx.Response.WriteAsync(_metrics.Prometheus(_engines));
        });
        app.MapGet("/", ctx => ChatPage.Serve(ctx, "index.html"));
        app.MapGet("/{file}", (HttpContext ctx, string file) => ChatPage.Serve(ctx, file));
        app.MapFallback(ctx => throw new ApiException(404, $"no route {ctx.Request.Method} {ctx.Request.Path}", null, "unknown_url"));
    }

    /// <summary>Compares the bearer token's hash with every key's in constant time (no early exit, no length leak).</summary>
    private bool Authorized(HttpContext ctx)
    {
        string header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return false;
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim()));
        bool ok = false;
        foreach (var k in _keyHashes) ok |= CryptographicOperations.FixedTimeEquals(given, k);
        return ok;
    }

    public async Task WaitForShutdownAsync(CancellationToken ct) => await _app.WaitForShutdownAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var e in _engines)
        {
            e.Dispose();
            e.Model.Dispose();
        }
    }
}
