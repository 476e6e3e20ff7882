namespace Vib3.Models.Tokenization;

/// <summary>GPT-2's byte ⇄ printable-character table used by byte-level BPE vocabularies (space is 'Ġ', newline 'Ċ').</summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(x => x.c, x => (byte)x.b);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var n = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }

    public static char CharOf(byte b) => ByteToChar[b];

    /// <summary>The bytes a vocabulary string stands for, or null if it has a character outside the table.</summary>
    public static byte[]? TryGetBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!CharToByte.TryGetValue(token[i], out var b)) return null;
            bytes[i] = b;
        }
        return bytes;
    }
}
