using System.Text.Encodings.Web;
using System.Text.Json;

namespace Loom.Serving.Api;

/// <summary>How responses are written: plain UTF-8 with only JSON's required escapes (responses are application/json, never HTML).</summary>
internal static class JsonOutput
{
    public static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
