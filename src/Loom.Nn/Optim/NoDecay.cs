namespace Loom.Nn;

/// <summary>Resolves an optional set of parameter names that must not be weight-decayed.</summary>
internal static class NoDecay
{
    /// <summary>True for each parameter that is decayed; an unknown name in the set is an error (a typo would silently decay).</summary>
    public static bool[] Flags(IReadOnlyList<string> names, IEnumerable<string>? noDecay)
    {
        var set = new HashSet<string>(noDecay ?? [], StringComparer.Ordinal);
        foreach (var n in set)
            if (!names.Contains(n)) throw new ArgumentException($"no-decay parameter '{n}' is not among the optimizer's parameters");
        return names.Select(n => !set.Contains(n)).ToArray();
    }
}
