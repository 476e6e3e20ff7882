using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>TQ1_0 weights · Q8_K activations (<see cref="KQuantRow"/>): base-3 digits u (0, 1, 2 for −1, 0, +1),
/// five to a qs byte and four to a qh byte (<see cref="Core.Quant.TQ1_0"/>), one scale d. Value = d·(u − 1): an offset
/// format with c = 1 and every sub-block scale 1. Digit n of a byte b is ⌊3·m/256⌋ with m = b·3ⁿ mod 256; the kernel
/// forms m with byte adds and shifts (3m = m + m + m, 9m = 8m + m) and the digit as (m ≥ 86) + (m ≥ 171), the two
/// thresholds where 3m reaches 256 and 512.</summary>
internal readonly unsafe struct TQ1_0Dot : IKQuantFormat
{
    private const int TailOffset = 32;
    private const int HighOffset = 48;
    private const int ScaleOffset = 52;

    /// <summary><see cref="KQuantRow.Dot{TFormat}"/> of TQ1_0.</summary>
    internal static void Dot(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output) =>
        KQuantRow.Dot<TQ1_0Dot>(tier, row, q8k, stride, inputs, blocks, output);

    public static int BlockBytes => 54;
    public static bool UsesSums => true;
    public static int SubBlockValues => 32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockScales Decode(byte* block, float* halves, out float d, out float dmin)
    {
        d = KQuantRow.Half(halves, block + ScaleOffset);
        dmin = 0;
        return Ternary.Scales;
    }

    /// <summary>Values 32n + m (n &lt; 5): digit n of qs[m]; 160 + 16n + m: digit n of qs[32 + m]; 240 + 4n + j: digit n
    /// of qh[j].</summary>
    public static int Quant(byte* block, int p)
    {
        var (packed, n) = p switch
        {
            < 160 => (block[p % 32], p / 32),
            < 240 => (block[TailOffset + (p - 160) % 16], (p - 160) / 16),
            _ => (block[HighOffset + (p - 240) % 4], (p - 240) / 4),
        };
        var m = (byte)(packed * (n switch { 0 => 1, 1 => 3, 2 => 9, 3 => 27, _ => 81 }));
        return 3 * m >> 8;
    }

    /// <summary>Runs 0–4 are digits 0–4 of qs[0…31]; run 5 digits 0 and 1 of qs[32…47], run 6 digits 2 and 3, run 7
    /// digit 4 and then qh's sixteen digits, all formed in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount
    {
        var ones = Ternary.Ones;
        var q = Vector256.Load(block);
        var q3 = q + q + q;
        var q9 = Times9(q);
        ByteDots.Add<TDot, TCount>(0, Digits(q), x, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(1, Digits(q3), x + 32, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(2, Digits(q9), x + 64, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(3, Digits(Times9(q3)), x + 96, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(0, Digits(Times9(q9)), x + 128, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);

        var t = Vector128.Load(block + TailOffset);
        var t3 = t + t + t;
        var t9 = Times9(t);
        // qh's four bytes four times over, times 1, 3, 9 and 27 (16-bit products, truncated back to bytes).
        var (h13, h927) = Vector128.Widen(Vector128.Create(*(uint*)(block + HighOffset)).AsByte());
        var h = Vector128.Narrow(h13 * Vector128.Create((ushort)1, 1, 1, 1, 3, 3, 3, 3), h927 * Vector128.Create((ushort)9, 9, 9, 9, 27, 27, 27, 27));
        ByteDots.Add<TDot, TCount>(1, Digits(Vector256.Create(t, t3)), x + 160, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(2, Digits(Vector256.Create(t9, Times9(t3))), x + 192, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(3, Digits(Vector256.Create(Times9(t9), h)), x + 224, stride, inputs, ones, ref a0, ref a1, ref a2, ref a3);
    }

    /// <summary>9·m mod 256 per byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Times9(Vector256<byte> m) => (m << 3) + m;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Times9(Vector128<byte> m) => (m << 3) + m;

    /// <summary>⌊3·m/256⌋ per byte: (m &gt; 85) + (m &gt; 170), compared as signed bytes after flipping the top bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Digits(Vector256<byte> m)
    {
        var signed = (m ^ Vector256.Create((byte)0x80)).AsSByte();
        var above85 = Vector256.GreaterThan(signed, Vector256.Create((sbyte)(85 - 128)));
        var above170 = Vector256.GreaterThan(signed, Vector256.Create((sbyte)(170 - 128)));
        return (Vector256<sbyte>.Zero - above85 - above170).AsByte();
    }
}
