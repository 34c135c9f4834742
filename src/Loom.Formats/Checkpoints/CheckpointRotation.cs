using System.Globalization;

namespace Loom.Formats;

/// <summary>
/// Numbered checkpoints in a directory ("&lt;prefix&gt;-&lt;step&gt;.safetensors"): save one and keep only the newest N,
/// and find the newest to resume from.
/// </summary>
public static class CheckpointRotation
{
    /// <summary>Saves <paramref name="checkpoint"/> as prefix-step and deletes all but the newest <paramref name="keepLast"/>; returns the path.</summary>
    public static string Save(TrainingCheckpoint checkpoint, string directory, int keepLast, string prefix = "ckpt")
    {
        if (keepLast < 1) throw new ArgumentOutOfRangeException(nameof(keepLast), keepLast, "must keep at least one checkpoint");
        CheckPrefix(prefix);
        string path = Path.Combine(directory, $"{prefix}-{checkpoint.Step.ToString("D10", CultureInfo.InvariantCulture)}.safetensors");
        checkpoint.Save(path);
        // The new file exists before any old one is removed, so a crash here never leaves zero checkpoints.
        foreach (var (_, old) in List(directory, prefix).SkipLast(keepLast)) File.Delete(old);
        return path;
    }

    /// <summary>The newest checkpoint in <paramref name="directory"/>, or null when there is none.</summary>
    public static string? Latest(string directory, string prefix = "ckpt")
    {
        CheckPrefix(prefix);
        var all = List(directory, prefix);
        return all.Count == 0 ? null : all[^1].Path;
    }

    /// <summary>Checkpoints with this prefix, oldest first (by step number, not file time).</summary>
    public static List<(long Step, string Path)> List(string directory, string prefix = "ckpt")
    {
        if (!Directory.Exists(directory)) return [];
        var result = new List<(long, string)>();
        foreach (var f in Directory.EnumerateFiles(directory, prefix + "-*.safetensors"))
        {
            string stem = Path.GetFileNameWithoutExtension(f);
            if (long.TryParse(stem.AsSpan(prefix.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long step))
                result.Add((step, f));
        }
        result.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return result;
    }

    private static void CheckPrefix(string prefix)
    {
        if (string.IsNullOrEmpty(prefix) || prefix.IndexOfAny(['/', '\\', '*', '?']) >= 0)
            throw new ArgumentException($"invalid checkpoint prefix '{prefix}'");
    }
}
