using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Loom.Serving.Api;

/// <summary>An error answered in OpenAI's shape: {"error":{"message","type","param","code"}} with an HTTP status.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null, string? type = null) : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public string Type { get; } = type ?? status switch
    {
        401 => "authentication_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    public static ApiException Invalid(string param, string message) => new(400, message, param, "invalid_value");

    /// <summary>Writes the error object (no status, for the end of an event stream too).</summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", Message);
        w.WriteString("type", Type);
        if (Param != null) w.WriteString("param", Param); else w.WriteNull("param");
        if (Code != null) w.WriteString("code", Code); else w.WriteNull("code");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public async Task WriteAsync(HttpContext ctx)
    {
        ctx.Response.StatusCode = Status;
        ctx.Response.ContentType = "application/json";
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, JsonOutput.Options)) WriteJson(w);
        await ctx.Response.Body.WriteAsync(ms.ToArray());
    }
}
