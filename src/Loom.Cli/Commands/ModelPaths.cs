namespace Loom.Cli.Commands;

/// <summary>Where the bundled default model lives, found relative to the executable or the working directory.</summary>
public static class ModelPaths
{
    public const string DefaultModelRelative = "models/default";

    /// <summary>The folder given, or the bundled default model when none is.</summary>
    public static string Resolve(string? model)
    {
        if (!string.IsNullOrEmpty(model)) return model;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            var dir = new DirectoryInfo(start);
            while (dir != null)
            {
                var candidate = Path.Combine(dir.FullName, DefaultModelRelative);
                if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
                dir = dir.Parent;
            }
        }
        throw new DirectoryNotFoundException($"no --model given and the bundled model ({DefaultModelRelative}) was not found");
    }
}
