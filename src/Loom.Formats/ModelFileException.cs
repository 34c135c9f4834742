namespace Loom.Formats;

/// <summary>A model or checkpoint file is missing, truncated, corrupt or unsupported; the message names the file.</summary>
public sealed class ModelFileException(string path, string problem, Exception? inner = null)
    : IOException($"{path}: {problem}", inner)
{
    public string FilePath { get; } = path;
    public string Problem { get; } = problem;
}
