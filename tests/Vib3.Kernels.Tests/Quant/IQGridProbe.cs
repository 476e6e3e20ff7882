using System.Buffers.Binary;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>
/// Measures the IQ formats' lattice codebooks from ggml's own dequantisers, so vib3's copy (<see cref="IQGrids"/>)
/// comes from the reference implementation's behaviour rather than from its source. A probe block has d = 1 (f16),
/// every sub-block scale and sign bit 0, and its first group pointing at row k: ggml then writes row k times a
/// scale the format fixes (and, for IQ1, plus its +1/8 shift), which <see cref="Grid.Decode"/> undoes exactly.
/// </summary>
internal static class IQGridProbe
{
    /// <summary>One codebook: the <see cref="IQGrids"/> property that holds it, the ggml type that reads it, its row
    /// count and values per row, how to point a zeroed block's first group at row k, and value = scale·(row + shift).</summary>
    public sealed record Grid(
        string Property, string Type, int Rows, int Width, int BlockBytes, Action<byte[], int> PointAt,
        float Scale, float Shift, Func<ulong[]> Committed)
    {
        /// <summary>Row k of ggml's codebook, one byte per value (two's complement), packed little-endian.</summary>
        public ulong[] Measure()
        {
            var blocks = new byte[Rows * BlockBytes];
            for (var k = 0; k < Rows; k++)
            {
                var block = new byte[BlockBytes];
                BlockFormatCase.WriteHalf(block, Half.One); // d = 1: every format here opens with its f16 d
                PointAt(block, k);
                block.CopyTo(blocks, k * BlockBytes);
            }
            var values = GgmlReference.Dequantize(Type, blocks, Rows * 256);
            var rows = new ulong[Rows];
            for (var k = 0; k < Rows; k++)
                for (var j = 0; j < Width; j++)
                    rows[k] |= (ulong)(byte)Decode(values[k * 256 + j], k, j) << (8 * j);
            return rows;
        }

        private sbyte Decode(float value, int row, int j)
        {
            var g = value / Scale - Shift;
            if (g != MathF.Round(g) || g < sbyte.MinValue || g > sbyte.MaxValue)
                throw new InvalidOperationException($"{Type} row {row} value {j}: ggml wrote {value:R}, which is not {Scale}·(integer + {Shift})");
            return (sbyte)g;
        }
    }

    public static IReadOnlyList<Grid> All { get; } =
    [
        new(nameof(IQGrids.IQ2XXS), "iq2_xxs", 256, 8, 66, (b, k) => b[2] = (byte)k, 0.125f, 0, () => IQGrids.IQ2XXS.ToArray()),
        new(nameof(IQGrids.IQ2XS), "iq2_xs", 512, 8, 74, (b, k) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), (ushort)k),
            0.125f, 0, () => IQGrids.IQ2XS.ToArray()),
        new(nameof(IQGrids.IQ2S), "iq2_s", 1024, 8, 82, (b, k) => { b[2] = (byte)k; b[66] = (byte)(k >> 8); }, 0.125f, 0,
            () => IQGrids.IQ2S.ToArray()),
        new(nameof(IQGrids.IQ3XXS), "iq3_xxs", 256, 4, 98, (b, k) => b[2] = (byte)k, 0.25f, 0, () => Widen(IQGrids.IQ3XXS)),
        new(nameof(IQGrids.IQ3S), "iq3_s", 512, 4, 110, (b, k) => { b[2] = (byte)k; b[66] = (byte)(k >> 8); }, 1, 0,
            () => Widen(IQGrids.IQ3S)),
        new(nameof(IQGrids.IQ1S), "iq1_s", 2048, 8, 50,
            (b, k) => { b[2] = (byte)k; BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(34), (ushort)(k >> 8)); }, 1, 0.125f,
            () => IQGrids.IQ1S.ToArray()),
    ];

    /// <summary>ggml's 8 sign bits for each 7-bit sign field (its ksigns table), read from IQ2_XXS probe blocks whose
    /// first group's sign field is i: bit j is set where value j came out negative.</summary>
    public static byte[] MeasureSigns()
    {
        const int blockBytes = 66;
        var blocks = new byte[128 * blockBytes];
        for (var i = 0; i < 128; i++)
        {
            var block = blocks.AsSpan(i * blockBytes, blockBytes);
            BlockFormatCase.WriteHalf(block, Half.One);
            BinaryPrimitives.WriteUInt32LittleEndian(block[6..], (uint)i);
        }
        var values = GgmlReference.Dequantize("iq2_xxs", blocks, 128 * 256);
        var signs = new byte[128];
        for (var i = 0; i < 128; i++)
            for (var j = 0; j < 8; j++)
                if (values[i * 256 + j] < 0) signs[i] |= (byte)(1 << j);
        return signs;
    }

    private static ulong[] Widen(ReadOnlySpan<uint> rows)
    {
        var wide = new ulong[rows.Length];
        for (var i = 0; i < rows.Length; i++) wide[i] = rows[i];
        return wide;
    }
}
