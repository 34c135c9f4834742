namespace Loom.Text;

/// <summary>GPT-2's reversible byte-to-character mapping, used to spell byte-level BPE tokens as printable strings in vocab files.</summary>
public static class ByteLevel
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    /// <summary>The printable character that stands for <paramref name="b"/> in vocab files.</summary>
    public static char CharOf(byte b) => ByteToChar[b];

    /// <summary>The byte a vocab character stands for, or -1 when the character is not part of the mapping.</summary>
    public static int ByteOf(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    /// <summary>Spells raw bytes as a byte-level vocab string.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++) dst[i] = ByteToChar[src[i]];
        });
    }

    /// <summary>Reads a byte-level vocab string back into bytes; null when a character is outside the mapping.</summary>
    public static byte[]? TryDecode(string token)
    {
        var result = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            int b = ByteOf(token[i]);
            if (b < 0) return null;
            result[i] = (byte)b;
        }
        return result;
    }

    private static char[] BuildByteToChar()
    {
        // Printable Latin-1 bytes stand for themselves; the rest are shifted to U+0100.. so that
        // every token is visible text and whitespace never appears inside a vocab entry.
        var map = new char[256];
        var printable = new bool[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++) map[b] = printable[b] ? (char)b : (char)(256 + n++);
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var inverse = new short[512];
        Array.Fill(inverse, (short)-1);
        for (int b = 0; b < 256; b++) inverse[ByteToChar[b]] = (short)b;
        return inverse;
    }
}
