namespace Loom.Tensors;

/// <summary>Element type of a tensor's storage. Compute is float32; F16 and BF16 are storage formats.</summary>
public enum DType
{
    F32,
    F16,
    BF16,
}

/// <summary>Size and naming helpers for <see cref="DType"/>.</summary>
public static class DTypeInfo
{
    public static int SizeOf(DType t) => t switch
    {
        DType.F32 => 4,
        DType.F16 => 2,
        DType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>The safetensors / PyTorch name of the type.</summary>
    public static string Name(DType t) => t switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        _ => t.ToString(),
    };
}
