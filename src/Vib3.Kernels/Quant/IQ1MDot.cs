using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>IQ1_M weights · Q8_K activations (<see cref="KQuantRow"/>): 32 groups of eight values, each an 11-bit
/// <see cref="IQGrids.IQ1S"/> row of −1/0/+1 and the sign of its own shift δ = ±1/8, sixteen 16-value sub-blocks with
/// 3-bit scales s, and d spread over the scale words' top nibbles (<see cref="IQ1M"/>). Value =
/// (d/8)·(2s + 1)·(8·grid ± 1). As <see cref="IQ1SDot"/>, the kernel multiplies u = 8·grid + 9 ± 1 and takes the
/// offset 9 back through the block sums weighted by 9·(2s + 1); the shift's sign is per eight values, finer than a
/// Q8_K block sum, so it stays in u. Integer scale 2s + 1, float d/8.</summary>
internal readonly unsafe struct IQ1MDot : IKQuantFormat, IEightRuns
{
    private const int HighOffset = 32;
    private const int ScalesOffset = 48;
    private const int Offset = 9;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of IQ1_M.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<IQ1MDot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 56;
    public static bool UsesSums => true;
    public static int SubBlockValues => 16;

    /// <summary>The four scale words w₀…w₃ as one 64-bit load: d's f16 is their top nibbles; scale s of sub-block
    /// 4i + k is bits 3k…3k+2 of w_i, moved to bits 9–11 by a 16-bit multiply by 2^(9 − 3k) (vector shifts are by one
    /// count for all lanes) and shifted down. Each 16-value block sum k takes sub-block k's weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        var words = *(ulong*)(block + ScalesOffset);
        var half = (words >> 12 & 0xF) | (words >> 24 & 0xF0) | (words >> 36 & 0xF00) | (words >> 48 & 0xF000);
        var w = Vector128.CreateScalar(words).AsUInt16();
        var spread = Vector256.Create(Vector128.Shuffle(w, Vector128.Create((ushort)0, 0, 0, 0, 1, 1, 1, 1)),
            Vector128.Shuffle(w, Vector128.Create((ushort)2, 2, 2, 2, 3, 3, 3, 3)));
        var s = ((spread * Vector256.Create((ushort)512, 64, 8, 1, 512, 64, 8, 1, 512, 64, 8, 1, 512, 64, 8, 1)) >>> 9 & Vector256.Create((ushort)7)).AsInt16();
        var odd = s + s + Vector256<short>.One;
        d = halves[half] * 0.125f;
        dmin = 0;
        return new BlockScales(KQuantRow.Both(odd.GetLower()), KQuantRow.Both(odd.GetUpper()), odd * Offset);
    }

    /// <summary>Value 8g + j: u = 8·(byte j of row qs[g] + 256·(bits 0–2 of nibble g mod 2 of qh[g/2])) + 9, less 1
    /// where bit 3 of that nibble is set, plus 1 where not.</summary>
    public static int Quant(byte* block, int p)
    {
        var g = p / 8;
        var nibble = block[HighOffset + g / 2] >> (4 * (g % 2));
        var grid = (sbyte)(IQGrids.IQ1S[block[g] | (nibble & 7) << 8] >> (8 * (p % 8)));
        return 8 * grid + Offset + ((nibble & 8) != 0 ? -1 : 1);
    }

    /// <summary>Row number of group g: qs[g] + 256·(bits 0–2 of nibble g mod 2 of qh[g/2]), for all 32 groups with
    /// vector operations: each qh byte doubled into two 16-bit lanes, multiplied by 256 (even g) or 16 (odd g) to put
    /// its nibble's low bits at 8–10, and masked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prepare(byte* block, ushort* numbers)
    {
        var (low0, low1) = Vector256.Widen(Vector256.Load(block));
        var high = Vector128.Load(block + HighOffset);
        var fields = Vector256.Create((ushort)256, 16, 256, 16, 256, 16, 256, 16, 256, 16, 256, 16, 256, 16, 256, 16);
        var top = Vector256.Create((ushort)0x700);
        var high0 = EightRuns.Widen(Vector128.Shuffle(high, Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)));
        var high1 = EightRuns.Widen(Vector128.Shuffle(high, Vector128.Create((byte)8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)));
        (low0 | (high0 * fields & top)).Store(numbers);
        (low1 | (high1 * fields & top)).Store(numbers + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount =>
        EightRuns.Add<IQ1MDot, TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);

    /// <summary>Run r: groups 4r … 4r + 3 (<see cref="EightRuns.Iq1S"/>: 8g + 9), each group's 64-bit lane plus +1,
    /// or −1 (all ones) where its nibble's bit 3, the shift's sign, compares set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TDot, TCount>(int r, byte* block, ushort* numbers, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        uint nibbles = *(ushort*)(block + HighOffset + 2 * r);
        var n = numbers + 4 * r;
        var rows = EightRuns.Rows(EightRuns.Iq1S, n[0], n[1], n[2], n[3]);
        var signBits = Vector256.Create(0x8UL, 0x80UL, 0x800UL, 0x8000UL);
        var negative = Vector256.Equals(Vector256.Create((ulong)nibbles) & signBits, signBits).AsByte();
        ByteDots.Add<TDot, TCount>(r % 4, rows + (negative | Vector256<byte>.One), x + 32 * r, stride, inputs, EightRuns.PairScale<TDot>(scales, r),
            ref a0, ref a1, ref a2, ref a3);
    }
}
