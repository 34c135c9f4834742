namespace Loom.Nn;

/// <summary>An ordered list of modules named "0", "1", ... (PyTorch's nn.ModuleList).</summary>
public sealed class ModuleList : Module
{
    private int _count;

    public int Count => _count;

    public T Add<T>(T module) where T : Module => RegisterModule((_count++).ToString(System.Globalization.CultureInfo.InvariantCulture), module);
}
