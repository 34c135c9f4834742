using Microsoft.AspNetCore.Http;

namespace Loom.Serving.Web;

/// <summary>Serves the chat page's files, embedded in the assembly (no build step, no files on disk).</summary>
internal static class ChatPage
{
    private static readonly Dictionary<string, string> Types = new()
    {
        ["index.html"] = "text/html; charset=utf-8", ["chat.css"] = "text/css; charset=utf-8", ["chat.js"] = "text/javascript; charset=utf-8",
    };

    public static async Task Serve(HttpContext ctx, string file)
    {
        if (!Types.TryGetValue(file, out var type)) throw new Api.ApiException(404, $"no route GET /{file}", null, "unknown_url");
        using var s = typeof(ChatPage).Assembly.GetManifestResourceStream("Loom.Serving.Web." + file)
            ?? throw new InvalidOperationException($"embedded resource {file} is missing from the build");
        ctx.Response.ContentType = type;
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["Content-Security-Policy"] = "default-src 'self'; connect-src 'self'; style-src 'self'; script-src 'self'";
        ctx.Response.Headers["X-Content-Type-Options"] = "nosniff";
        await s.CopyToAsync(ctx.Response.Body);
    }
}
