using System.Text;

namespace Loom.Models.Generation;

/// <summary>
/// Turns token bytes into text pieces as they arrive, holding back an incomplete UTF-8 sequence (a byte-level
/// token can end in the middle of a character) and any tail that could still become a stop string.
/// </summary>
public sealed class Utf8Stream
{
    private readonly List<byte> _pending = new();
    private readonly StringBuilder _held = new();
    private readonly IReadOnlyList<string> _stops;

    public Utf8Stream(IReadOnlyList<string> stops) => _stops = stops.Where(s => s.Length > 0).ToList();

    /// <summary>True once a stop string has been produced; the text before it has been emitted.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds bytes; returns the text that is now safe to show (may be empty).</summary>
    public string Push(ReadOnlySpan<byte> bytes)
    {
        if (Stopped) return "";
        foreach (var b in bytes) _pending.Add(b);
        int complete = CompletePrefix(_pending);
        if (complete > 0)
        {
            _held.Append(Encoding.UTF8.GetString(_pending.GetRange(0, complete).ToArray()));
            _pending.RemoveRange(0, complete);
        }
        string text = _held.ToString();
        foreach (var s in _stops)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0)
            {
                Stopped = true;
                _held.Clear();
                return text[..at];
            }
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        int hold = 0;
        foreach (var s in _stops)
            for (int k = Math.Min(s.Length - 1, text.Length); k > hold; k--)
                if (text.AsSpan(text.Length - k).SequenceEqual(s.AsSpan(0, k))) { hold = k; break; }
        _held.Clear();
        _held.Append(text, text.Length - hold, hold);
        return text[..^hold];
    }

    /// <summary>Whatever is left at the end (invalid trailing bytes become U+FFFD).</summary>
    public string Flush()
    {
        if (Stopped) return "";
        string rest = _held + Encoding.UTF8.GetString(_pending.ToArray());
        _held.Clear();
        _pending.Clear();
        return rest;
    }

    /// <summary>Length of the longest prefix that does not end inside a UTF-8 sequence.</summary>
    private static int CompletePrefix(List<byte> b)
    {
        int n = b.Count;
        // Look back at most 3 bytes for the start of the last sequence.
        for (int back = 1; back <= Math.Min(4, n); back++)
        {
            byte c = b[n - back];
            if ((c & 0xC0) == 0x80) continue; // continuation byte
            int need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
            return back >= need ? n : n - back;
        }
        return n; // only continuation bytes: invalid anyway, let the decoder replace them
    }
}
