namespace Loom.Formats;

/// <summary>Block layout of a ggml tensor type: how many elements one block holds and how many bytes it takes.</summary>
public readonly record struct GgmlTypeInfo(uint Id, string Name, int BlockElements, int BlockBytes);

/// <summary>
/// The ggml tensor types Loom can size (ids from ggml.h; block sizes from ggml-common.h): plain F32/F16/BF16/F64 and
/// integer types, the 32-element legacy quants (Q4_0 .. Q8_1) and the 256-element K-quants (Q2_K .. Q8_K).
/// </summary>
public static class GgmlTypes
{
    private static readonly Dictionary<uint, GgmlTypeInfo> ById = new GgmlTypeInfo[]
    {
        new(0, "F32", 1, 4),
        new(1, "F16", 1, 2),
        new(2, "Q4_0", 32, 18),     // f16 d + 16 nibble bytes
        new(3, "Q4_1", 32, 20),     // f16 d, m + 16
        new(6, "Q5_0", 32, 22),     // f16 d + 4 high bits + 16
        new(7, "Q5_1", 32, 24),     // f16 d, m + 4 + 16
        new(8, "Q8_0", 32, 34),     // f16 d + 32 int8
        new(9, "Q8_1", 32, 36),     // f16 d, s + 32 int8
        new(10, "Q2_K", 256, 84),   // 16 scales + 64 quants + f16 d, dmin
        new(11, "Q3_K", 256, 110),  // 32 hmask + 64 quants + 12 scales + f16 d
        new(12, "Q4_K", 256, 144),  // f16 d, dmin + 12 scales + 128 quants
        new(13, "Q5_K", 256, 176),  // f16 d, dmin + 12 scales + 32 high bits + 128 quants
        new(14, "Q6_K", 256, 210),  // 128 low + 64 high + 16 int8 scales + f16 d
        new(15, "Q8_K", 256, 292),  // f32 d + 256 int8 + 16 int16 sums
        new(24, "I8", 1, 1),
        new(25, "I16", 1, 2),
        new(26, "I32", 1, 4),
        new(27, "I64", 1, 8),
        new(28, "F64", 1, 8),
        new(30, "BF16", 1, 2),
    }.ToDictionary(t => t.Id);

    public const uint F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
        Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30;

    /// <summary>The layout of a type id, or false when Loom does not know it.</summary>
    public static bool TryGet(uint id, out GgmlTypeInfo info) => ById.TryGetValue(id, out info);

    /// <summary>The layout of a type id; throws <see cref="ArgumentException"/> for an unknown id.</summary>
    public static GgmlTypeInfo Get(uint id) =>
        ById.TryGetValue(id, out var info) ? info : throw new ArgumentException($"unknown or unsupported ggml type id {id}");

    /// <summary>Bytes of a tensor of <paramref name="elements"/> elements (which must fill whole blocks).</summary>
    public static long ByteSize(GgmlTypeInfo t, long elements)
    {
        if (elements % t.BlockElements != 0) throw new ArgumentException($"{elements} elements is not a whole number of {t.Name} blocks of {t.BlockElements}");
        return checked(elements / t.BlockElements * t.BlockBytes);
    }
}
