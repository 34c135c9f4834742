using Loom.Formats;
using Loom.Tensors;

namespace Loom.Testing;

/// <summary>Finds and loads the oracle fixtures in tests/fixtures (written by the scripts in tools/fixtures).</summary>
public static class Fixtures
{
    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Loom.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (Loom.sln) above " + AppContext.BaseDirectory);
    }

    public static string PathOf(string name) => Path.Combine(RepoRoot, "tests", "fixtures", name);

    /// <summary>Loads a fixture file: every tensor copied into pooled memory.</summary>
    public static Dictionary<string, Tensor> Load(string name) => SafeTensorsFile.Load(PathOf(name));

    /// <summary>Asserts |a-b| &lt;= rtol * max(|b|, scale) elementwise, where scale is the largest |b| times 1e-3; reports the worst element.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, float rtol = 1e-4f, string what = "")
    {
        if (!Tensor.SameShape(expected.Shape, actual.Shape))
            throw new Xunit.Sdk.XunitException($"{what}: shape {Tensor.ShapeString(actual.Shape)}, expected {Tensor.ShapeString(expected.Shape)}");
        var e = expected.ToArray();
        var a = actual.ToArray();
        float maxAbs = 0;
        foreach (var v in e) maxAbs = MathF.Max(maxAbs, MathF.Abs(v));
        float floor = maxAbs * 1e-3f + 1e-12f;
        for (int i = 0; i < e.Length; i++)
        {
            float tol = rtol * MathF.Max(MathF.Abs(e[i]), floor);
            if (!(MathF.Abs(e[i] - a[i]) <= tol))
                throw new Xunit.Sdk.XunitException($"{what}: element {i}: got {a[i]}, expected {e[i]} (tolerance {tol})");
        }
    }
}
