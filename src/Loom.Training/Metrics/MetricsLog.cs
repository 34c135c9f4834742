using System.Text.Json;

namespace Loom.Training.Metrics;

/// <summary>Appends one JSON object per line (step, loss, lr, tokens/s, ...) to metrics.jsonl and flushes it.</summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _w;

    public string Path { get; }

    public MetricsLog(string path, bool append)
    {
        Path = path;
        _w = new StreamWriter(new FileStream(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read));
    }

    public void Write(IReadOnlyDictionary<string, object> record)
    {
        _w.WriteLine(JsonSerializer.Serialize(record));
        _w.Flush();
    }

    /// <summary>Reads back the records (for plots and for truncating after a resume).</summary>
    public static List<Dictionary<string, JsonElement>> Read(string path)
    {
        var list = new List<Dictionary<string, JsonElement>>();
        if (!File.Exists(path)) return list;
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { list.Add(JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(line)!); }
            catch (JsonException) { /* a line cut by a kill mid-write: skip it */ }
        }
        return list;
    }

    public void Dispose() => _w.Dispose();
}
