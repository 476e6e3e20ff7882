using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core;

namespace Vib3.Kernels;

/// <summary>Per-row dot products of a stored weight row with an f32 (or q8-quantised) activation vector.
/// AVX-512 paths, AVX2 + FMA paths (the same arithmetic in 256-bit halves, its own summation order), and portable
/// scalar fallbacks that compute the same dequantised values.</summary>
internal static unsafe class RowDot
{
    internal static readonly bool Avx512 = Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported;

    /// <summary>AVX2 with FMA (Haswell, Zen 1–3): what the kernels run where AVX-512 is absent.</summary>
    internal static readonly bool Avx2Fma = !Avx512 && Avx2.IsSupported && Fma.IsSupported && Vector256.IsHardwareAccelerated;

    /// <summary>f16 bits → f32, a 64K-entry table (256 KiB, stays in L2) used for q8_0 block scales.</summary>
    internal static readonly float[] HalfTable = BuildHalfTable();

    private static float[] BuildHalfTable()
    {
        var t = GC.AllocateArray<float>(65536, pinned: true);
        for (var i = 0; i < t.Length; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    internal static float* HalfTablePtr => (float*)Unsafe.AsPointer(ref HalfTable[0]);

    // ---------- f32 ----------
    internal static float F32(float* w, float* x, int n)
    {
        var i = 0;
        var sum = 0f;
        if (Avx512)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 64 <= n; i += 64)
            {
                a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(w + i), Vector512.Load(x + i), a0);
                a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(w + i + 16), Vector512.Load(x + i + 16), a1);
                a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(w + i + 32), Vector512.Load(x + i + 32), a2);
                a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(w + i + 48), Vector512.Load(x + i + 48), a3);
            }
            for (; i + 16 <= n; i += 16)
                a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(w + i), Vector512.Load(x + i), a0);
            sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Avx2Fma)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 32 <= n; i += 32)
            {
                a0 = Fma.MultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), a0);
                a1 = Fma.MultiplyAdd(Vector256.Load(w + i + 8), Vector256.Load(x + i + 8), a1);
                a2 = Fma.MultiplyAdd(Vector256.Load(w + i + 16), Vector256.Load(x + i + 16), a2);
                a3 = Fma.MultiplyAdd(Vector256.Load(w + i + 24), Vector256.Load(x + i + 24), a3);
            }
            for (; i + 8 <= n; i += 8)
                a0 = Fma.MultiplyAdd(Vector256.Load(w + i), Vector256.Load(x + i), a0);
            sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++) sum += w[i] * x[i];
        return sum;
    }

    // ---------- bf16 ----------
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Bf16x16(ushort* p)
        => Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)), 16).AsSingle();

    /// <summary>8 bf16 → 8 f32 (AVX2): zero-extend and shift into the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Bf16x8(ushort* p) => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(p), 16).AsSingle();

    internal static float BF16(ushort* w, float* x, int n)
    {
        var i = 0;
        var sum = 0f;
        if (Avx512)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 64 <= n; i += 64)
            {
                a0 = Avx512F.FusedMultiplyAdd(Bf16x16(w + i), Vector512.Load(x + i), a0);
                a1 = Avx512F.FusedMultiplyAdd(Bf16x16(w + i + 16), Vector512.Load(x + i + 16), a1);
                a2 = Avx512F.FusedMultiplyAdd(Bf16x16(w + i + 32), Vector512.Load(x + i + 32), a2);
                a3 = Avx512F.FusedMultiplyAdd(Bf16x16(w + i + 48), Vector512.Load(x + i + 48), a3);
            }
            for (; i + 16 <= n; i += 16)
                a0 = Avx512F.FusedMultiplyAdd(Bf16x16(w + i), Vector512.Load(x + i), a0);
            sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        }
        else if (Avx2Fma)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i + 32 <= n; i += 32)
            {
                a0 = Fma.MultiplyAdd(Bf16x8(w + i), Vector256.Load(x + i), a0);
                a1 = Fma.MultiplyAdd(Bf16x8(w + i + 8), Vector256.Load(x + i + 8), a1);
                a2 = Fma.MultiplyAdd(Bf16x8(w + i + 16), Vector256.Load(x + i + 16), a2);
                a3 = Fma.MultiplyAdd(Bf16x8(w + i + 24), Vector256.Load(x + i + 24), a3);
            }
            for (; i + 8 <= n; i += 8)
                a0 = Fma.MultiplyAdd(Bf16x8(w + i), Vector256.Load(x + i), a0);
            sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        }
        for (; i < n; i++) sum += DTypeConvert.BF16ToFloat(w[i]) * x[i];
        return sum;
    }

    // ---------- f16 ----------
    /// <summary>16 halves → 16 floats, exact for every finite half (normals, subnormals, ±0): sign-extend each half
    /// to 32 bits and shift it left 13, so the sign lands in bit 31 and exponent+mantissa in bits 13..27 (bits 28..30,
    /// copies of the sign, are cleared); read as f32 that is the value times 2^-112 (a half subnormal becomes an f32
    /// subnormal, still exact), so one multiply by 2^112 restores it. Inf/NaN halves come out finite (±65536·1.m):
    /// <paramref name="check"/> accumulates max(bits | ~exponentMask) so the caller can see that any element had an
    /// all-ones half exponent (the max is then 0xFFFFFFFF) and redo the row exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> F16x16(ushort* p, ref Vector512<uint> check) =>
        F16Checked(p, ref check) * Vector512.Create(HalfScale);

    /// <summary><see cref="F16x16"/> before its multiply: the 16 halves times 2^-112, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> F16Checked(ushort* p, ref Vector512<uint> check)
    {
        var t = F16Bits16(p).AsUInt32();
        check = Vector512.Max(check, t | Vector512.Create(0xF07FFFFFu));
        return t.AsSingle();
    }

    /// <summary><see cref="F16x16"/> for 8 halves (AVX2), the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> F16x8(ushort* p, ref Vector256<uint> check) =>
        F16Checked(p, ref check) * Vector256.Create(HalfScale);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> F16Checked(ushort* p, ref Vector256<uint> check)
    {
        var t = F16Bits(p).AsUInt32();
        check = Vector256.Max(check, t | Vector256.Create(0xF07FFFFFu));
        return t.AsSingle();
    }

    /// <summary>8 halves times 2^-112 (<see cref="F16x16"/>'s bits), no inf/NaN check: the caller checks the halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> F16Bits(ushort* p) =>
        ((Avx2.ConvertToVector256Int32((short*)p).AsUInt32() << 13) & Vector256.Create(0x8FFFE000u)).AsSingle();

    /// <summary>16 halves times 2^-112 (<see cref="F16x16"/>'s bits), no inf/NaN check: the caller checks the halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> F16Bits16(ushort* p) =>
        ((Avx512F.ConvertToVector512Int32(Vector256.Load((short*)p)).AsUInt32() << 13) & Vector512.Create(0x8FFFE000u)).AsSingle();

    /// <summary>8 halves held in the top 16 bits of 32-bit lanes → the halves times 2^-112 (<see cref="F16x16"/>'s
    /// bits): an arithmetic shift by 3 puts exponent and mantissa at bits 13–27 and copies of the sign above, which the
    /// mask clears but for bit 31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfWords(Vector256<ushort> top) =>
        (Avx2.ShiftRightArithmetic(top.AsInt32(), 3).AsUInt32() & Vector256.Create(0x8FFFE000u)).AsSingle();

    /// <summary>The half exponent field; a half is inf or NaN when all of it is set.</summary>
    internal const ushort HalfExponent = 0x7C00;

    /// <summary>2^112: a half's bits moved into an f32's exponent and mantissa read as the half times 2^-112.</summary>
    private static readonly float HalfScale = MathF.ScaleB(1f, 112);

    /// <summary>The exponent k that <see cref="ScaleForF16"/> uses when every |x| is below 2^16: x·2^112 is then finite and
    /// exact, and (w·2^-112)·(x·2^112) is w·x exactly, so the f16 kernel needs no multiply per weight to widen it.</summary>
    private const int F16InputExponent = 112;

    /// <summary>Writes x·2^k into <paramref name="scaled"/> for <see cref="F16"/> and returns 2^(112−k), the factor that
    /// brings its row sums back: k = 112 (factor 1) unless some finite |x| ≥ 2^16, when k shrinks so that x·2^k stays
    /// finite. The scaling is exact, and so is each product (w·2^-112)·(x·2^k) = w·x·2^(k−112): with k = 112 every
    /// fused multiply-add rounds exactly as it would on w·x, so the row sums have the same bits as widening each
    /// weight with <see cref="F16x16"/> (products smaller than 2^-126·2^(112−k) would lose bits only in the rare
    /// k &lt; 112 case). NaN and infinite x pass through as they are.</summary>
    internal static float ScaleForF16(float* x, int n, float* scaled)
    {
        var amax = 0f;
        var i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var a = Vector512.Abs(Vector512.Load(x + i));
                m = Vector512.Max(m, Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(float.PositiveInfinity)), a, default));
            }
            amax = MaxAcross(m);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                var a = Vector256.Abs(Vector256.Load(x + i));
                m = Vector256.Max(m, Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(float.PositiveInfinity)), a, default));
            }
            amax = MaxAcross(m);
        }
        for (; i < n; i++)
            if (float.IsFinite(x[i])) amax = MathF.Max(amax, MathF.Abs(x[i]));
        var k = amax < 65536f ? F16InputExponent : Math.Max(0, 126 - MathF.ILogB(amax));
        var up = MathF.ScaleB(1f, k);
        i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) (Vector512.Load(x + i) * up).Store(scaled + i);
        else if (Avx2Fma)
        {
            // Each whole group of 16 in the order F16's AVX2 loop widens the halves: 0–3, 8–11, then 4–7, 12–15.
            for (; i + 16 <= n; i += 16)
            {
                var low = Vector256.Load(x + i) * up;
                var high = Vector256.Load(x + i + 8) * up;
                Avx2.Permute2x128(low, high, 0x20).Store(scaled + i);
                Avx2.Permute2x128(low, high, 0x31).Store(scaled + i + 8);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) * up).Store(scaled + i);
        for (; i < n; i++) scaled[i] = x[i] * up;
        return MathF.ScaleB(1f, F16InputExponent - k);
    }

    /// <summary>Σ w·x over a row of halves. <paramref name="xScaled"/> and <paramref name="post"/> come from
    /// <see cref="ScaleForF16"/> (x·2^k and 2^(112−k)); <paramref name="x"/> is the unscaled vector, used for the
    /// elements past the last whole 16 and to redo a row holding an inf or NaN weight exactly.</summary>
    internal static float F16(ushort* w, float* x, float* xScaled, float post, int n)
    {
        var i = 0;
        var sum = 0f;
        if (Avx512)
        {
            // Each 16 halves are widened by vpmovsxwd straight from memory, a shift and the mask; the inf/NaN check
            // loads the same 64 halves again, two cache lines at a time, and keeps the max of their exponent fields
            // (two instructions per 32 halves where checking the widened values cost two per 16; interleaving with
            // zeros as the AVX2 path does measured slower here).
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            var exponents = Vector512<ushort>.Zero;
            var field = Vector512.Create(HalfExponent);
            for (; i + 64 <= n; i += 64)
            {
                exponents = Vector512.Max(exponents, Vector512.Max(Vector512.Load(w + i) & field, Vector512.Load(w + i + 32) & field));
                a0 = Avx512F.FusedMultiplyAdd(F16Bits16(w + i), Vector512.Load(xScaled + i), a0);
                a1 = Avx512F.FusedMultiplyAdd(F16Bits16(w + i + 16), Vector512.Load(xScaled + i + 16), a1);
                a2 = Avx512F.FusedMultiplyAdd(F16Bits16(w + i + 32), Vector512.Load(xScaled + i + 32), a2);
                a3 = Avx512F.FusedMultiplyAdd(F16Bits16(w + i + 48), Vector512.Load(xScaled + i + 48), a3);
            }
            for (; i + 16 <= n; i += 16)
            {
                exponents = Vector512.Max(exponents, Vector256.Load(w + i).ToVector512() & field);
                a0 = Avx512F.FusedMultiplyAdd(F16Bits16(w + i), Vector512.Load(xScaled + i), a0);
            }
            if (Vector512.EqualsAny(exponents, field))
                return F16Scalar(w, x, n); // an inf/NaN weight: redo the row with exact conversions
            sum = Vector512.Sum((a0 + a1) + (a2 + a3)) * post;
        }
        else if (Avx2Fma)
        {
            // The inf/NaN check runs on the halves as loaded, 16 per max of their exponent fields (checking each widened
            // vector cost two more instructions per 8 weights, the kernel's bound here in cache).
            // 16 halves are loaded once and widened by interleaving them with zeros (vpunpcklwd/hwd give halves 0–3,
            // 8–11 and 4–7, 12–15, each in a lane's top 16 bits), which ScaleForF16 matched by storing x in that order.
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            var exponents = Vector256<ushort>.Zero;
            var field = Vector256.Create(HalfExponent);
            for (; i + 32 <= n; i += 32)
            {
                var h0 = Vector256.Load(w + i);
                var h1 = Vector256.Load(w + i + 16);
                exponents = Vector256.Max(exponents, Vector256.Max(h0 & field, h1 & field));
                a0 = Fma.MultiplyAdd(HalfWords(Avx2.UnpackLow(Vector256<ushort>.Zero, h0)), Vector256.Load(xScaled + i), a0);
                a1 = Fma.MultiplyAdd(HalfWords(Avx2.UnpackHigh(Vector256<ushort>.Zero, h0)), Vector256.Load(xScaled + i + 8), a1);
                a2 = Fma.MultiplyAdd(HalfWords(Avx2.UnpackLow(Vector256<ushort>.Zero, h1)), Vector256.Load(xScaled + i + 16), a2);
                a3 = Fma.MultiplyAdd(HalfWords(Avx2.UnpackHigh(Vector256<ushort>.Zero, h1)), Vector256.Load(xScaled + i + 24), a3);
            }
            for (; i + 16 <= n; i += 16)
            {
                var h = Vector256.Load(w + i);
                exponents = Vector256.Max(exponents, h & field);
                a0 = Fma.MultiplyAdd(HalfWords(Avx2.UnpackLow(Vector256<ushort>.Zero, h)), Vector256.Load(xScaled + i), a0);
                a1 = Fma.MultiplyAdd(HalfWords(Avx2.UnpackHigh(Vector256<ushort>.Zero, h)), Vector256.Load(xScaled + i + 8), a1);
            }
            for (; i + 8 <= n; i += 8)
            {
                exponents = Vector256.Max(exponents, Vector128.Load(w + i).ToVector256() & field);
                a0 = Fma.MultiplyAdd(F16Bits(w + i), Vector256.Load(xScaled + i), a0);
            }
            if (Vector256.EqualsAny(exponents, field))
                return F16Scalar(w, x, n);
            sum = Vector256.Sum((a0 + a1) + (a2 + a3)) * post;
        }
        var table = HalfTablePtr;
        for (; i < n; i++) sum += table[w[i]] * x[i];
        return sum;
    }

    private static float F16Scalar(ushort* w, float* x, int n)
    {
        var table = HalfTablePtr;
        var sum = 0f;
        for (var i = 0; i < n; i++) sum += table[w[i]] * x[i];
        return sum;
    }

    // ---------- q8_0 ----------
    /// <summary>Quantises x (length blocks·32) to q8_0 the way llama.cpp's x86 quantize_row_q8_0 does:
    /// amax = max|x| per block, d = amax/127 stored as f16 (here: the f16 value, widened back to f32, in xd),
    /// q = round-half-even(x · 127/amax) (0 when amax = 0), kept as int16 in xq for the q8_0 kernel's vpmaddwd.
    /// <paramref name="xs"/> (optional): q8_1's block sum s = f16(Σq · amax/127), from the unrounded d as
    /// llama.cpp's quantize_row_q8_1 computes it, for the weight types with a min (Q4_1, Q5_1).</summary>
    internal static void QuantizeQ8(float* x, int blocks, short* xq, float* xd, float* xs = null) =>
        QuantizeQ8(x, blocks, xq, null, xd, xs);

    /// <summary><see cref="QuantizeQ8(float*, int, short*, float*, float*)"/> with the same quants kept as int8, as the
    /// 4/5-bit and IQ4_NL kernels take them (<see cref="Quant.LegacyDots"/>: vpmaddubsw, vpdpbusd).</summary>
    internal static void QuantizeQ8Bytes(float* x, int blocks, sbyte* xq, float* xd, float* xs = null) =>
        QuantizeQ8(x, blocks, null, xq, xd, xs);

    /// <summary>The one q8_0 quantiser; exactly one of <paramref name="wide"/> (int16) and <paramref name="narrow"/>
    /// (int8) receives the quants, the same integers either way.</summary>
    private static void QuantizeQ8(float* x, int blocks, short* wide, sbyte* narrow, float* xd, float* xs)
    {
        for (var b = 0; b < blocks; b++)
        {
            var xb = x + b * 32;
            float amax;
            if (Avx512)
            {
                var v0 = Vector512.Load(xb);
                var v1 = Vector512.Load(xb + 16);
                amax = MaxAcross(Vector512.Max(Vector512.Abs(v0), Vector512.Abs(v1)));
                var id = Vector512.Create(amax != 0 ? 127f / amax : 0f);
                var q0 = Avx512F.ConvertToVector512Int32(v0 * id); // cvtps2dq: round half to even
                var q1 = Avx512F.ConvertToVector512Int32(v1 * id);
                if (wide != null)
                {
                    Avx512F.ConvertToVector256Int16(q0).Store(wide + b * 32);
                    Avx512F.ConvertToVector256Int16(q1).Store(wide + b * 32 + 16);
                }
                else
                {
                    Avx512F.ConvertToVector128SByte(q0).Store(narrow + b * 32); // |q| ≤ 127: the truncating vpmovdb is exact
                    Avx512F.ConvertToVector128SByte(q1).Store(narrow + b * 32 + 16);
                }
            }
            else if (Avx2Fma)
            {
                var v0 = Vector256.Load(xb);
                var v1 = Vector256.Load(xb + 8);
                var v2 = Vector256.Load(xb + 16);
                var v3 = Vector256.Load(xb + 24);
                amax = MaxAcross(Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3))));
                var id = Vector256.Create(amax != 0 ? 127f / amax : 0f);
                // cvtps2dq rounds half to even; |q| ≤ 127, so the truncating narrows are exact.
                var q01 = Vector256.Narrow(Avx.ConvertToVector256Int32(v0 * id), Avx.ConvertToVector256Int32(v1 * id));
                var q23 = Vector256.Narrow(Avx.ConvertToVector256Int32(v2 * id), Avx.ConvertToVector256Int32(v3 * id));
                if (wide != null)
                {
                    q01.Store(wide + b * 32);
                    q23.Store(wide + b * 32 + 16);
                }
                else
                {
                    Vector256.Narrow(q01, q23).Store(narrow + b * 32);
                }
            }
            else
            {
                amax = 0;
                for (var j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
                var id = amax != 0 ? 127f / amax : 0f;
                for (var j = 0; j < 32; j++)
                {
                    var q = MathF.Round(xb[j] * id, MidpointRounding.ToEven);
                    if (wide != null) wide[b * 32 + j] = (short)q;
                    else narrow[b * 32 + j] = (sbyte)q;
                }
            }
            xd[b] = (float)(Half)(amax / 127f);
            if (xs != null)
            {
                var sum = 0;
                for (var j = 0; j < 32; j++) sum += wide != null ? wide[b * 32 + j] : narrow[b * 32 + j];
                xs[b] = (float)(Half)(sum * (amax / 127f));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAcross(Vector512<float> m) => MaxAcross(Vector256.Max(m.GetLower(), m.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAcross(Vector256<float> h)
    {
        var q = Vector128.Max(h.GetLower(), h.GetUpper());
        q = Vector128.Max(q, Vector128.Shuffle(q, Vector128.Create(2, 3, 0, 1)));
        q = Vector128.Max(q, Vector128.Shuffle(q, Vector128.Create(1, 0, 3, 2)));
        return q.ToScalar();
    }

    /// <summary><see cref="Q8"/> of one weight row against four quantised inputs at once (input k at xq + k·xStride,
    /// its scales at xd + k·dStride): each weight block is loaded and widened once for all four. Every input keeps
    /// Q8's own accumulators and order, so out[k] equals Q8(w, xq_k, xd_k, blocks) bit for bit.</summary>
    internal static void Q8x4(byte* w, short* xq, int xStride, float* xd, int dStride, int blocks, float* output)
    {
        if (!Avx512)
        {
            Q8x4Avx2(w, xq, xStride, xd, dStride, blocks, output);
            return;
        }
        var table = HalfTablePtr;
        short* x0 = xq, x1 = xq + xStride, x2 = xq + 2 * xStride, x3 = xq + 3 * xStride;
        float* d0 = xd, d1 = xd + dStride, d2 = xd + 2 * dStride, d3 = xd + 3 * dStride;
        Vector512<float> e0 = default, e1 = default, e2 = default, e3 = default; // even blocks (Q8's a0)
        Vector512<float> o0 = default, o1 = default, o2 = default, o3 = default; // odd blocks (Q8's a1)
        var b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            var p0 = w + b * DTypes.Q8BlockBytes;
            var p1 = p0 + DTypes.Q8BlockBytes;
            var w0 = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)(p0 + 2)));
            var w1 = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)(p1 + 2)));
            var s0 = table[*(ushort*)p0];
            var s1 = table[*(ushort*)p1];
            e0 = Block(w0, x0 + b * 32, s0 * d0[b], e0); o0 = Block(w1, x0 + b * 32 + 32, s1 * d0[b + 1], o0);
            e1 = Block(w0, x1 + b * 32, s0 * d1[b], e1); o1 = Block(w1, x1 + b * 32 + 32, s1 * d1[b + 1], o1);
            e2 = Block(w0, x2 + b * 32, s0 * d2[b], e2); o2 = Block(w1, x2 + b * 32 + 32, s1 * d2[b + 1], o2);
            e3 = Block(w0, x3 + b * 32, s0 * d3[b], e3); o3 = Block(w1, x3 + b * 32 + 32, s1 * d3[b + 1], o3);
        }
        if (b < blocks)
        {
            var p0 = w + b * DTypes.Q8BlockBytes;
            var w0 = Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)(p0 + 2)));
            var s0 = table[*(ushort*)p0];
            e0 = Block(w0, x0 + b * 32, s0 * d0[b], e0);
            e1 = Block(w0, x1 + b * 32, s0 * d1[b], e1);
            e2 = Block(w0, x2 + b * 32, s0 * d2[b], e2);
            e3 = Block(w0, x3 + b * 32, s0 * d3[b], e3);
        }
        output[0] = Vector512.Sum(e0 + o0);
        output[1] = Vector512.Sum(e1 + o1);
        output[2] = Vector512.Sum(e2 + o2);
        output[3] = Vector512.Sum(e3 + o3);
    }

    /// <summary><see cref="Q8x4"/> on AVX2: each block's 32 weights widened once (two halves) for the four inputs, every
    /// input in <see cref="Q8"/>'s AVX2 order, so out[k] equals Q8(w, xq_k, xd_k, blocks) bit for bit.</summary>
    private static void Q8x4Avx2(byte* w, short* xq, int xStride, float* xd, int dStride, int blocks, float* output)
    {
        var table = HalfTablePtr;
        short* x0 = xq, x1 = xq + xStride, x2 = xq + 2 * xStride, x3 = xq + 3 * xStride;
        float* d0 = xd, d1 = xd + dStride, d2 = xd + 2 * dStride, d3 = xd + 3 * dStride;
        Vector256<float> e0 = default, e1 = default, e2 = default, e3 = default; // even blocks (Q8's a0)
        Vector256<float> o0 = default, o1 = default, o2 = default, o3 = default; // odd blocks (Q8's a1)
        for (var b = 0; b < blocks; b++)
        {
            var p = w + b * DTypes.Q8BlockBytes;
            var lo = Avx2.ConvertToVector256Int16((sbyte*)(p + 2));
            var hi = Avx2.ConvertToVector256Int16((sbyte*)(p + 18));
            var s = table[*(ushort*)p];
            var c = b * 32;
            if ((b & 1) == 0)
            {
                e0 = Block(lo, hi, x0 + c, s * d0[b], e0); e1 = Block(lo, hi, x1 + c, s * d1[b], e1);
                e2 = Block(lo, hi, x2 + c, s * d2[b], e2); e3 = Block(lo, hi, x3 + c, s * d3[b], e3);
            }
            else
            {
                o0 = Block(lo, hi, x0 + c, s * d0[b], o0); o1 = Block(lo, hi, x1 + c, s * d1[b], o1);
                o2 = Block(lo, hi, x2 + c, s * d2[b], o2); o3 = Block(lo, hi, x3 + c, s * d3[b], o3);
            }
        }
        output[0] = Vector256.Sum(e0 + o0);
        output[1] = Vector256.Sum(e1 + o1);
        output[2] = Vector256.Sum(e2 + o2);
        output[3] = Vector256.Sum(e3 + o3);
    }

    /// <summary>acc + scale · (q_w · q_x), one block on AVX2: vpmaddwd on each half, the two halves' pair sums added
    /// (exact), then convert and fused multiply-add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block(Vector256<short> lo, Vector256<short> hi, short* x, float scale, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(x)) + Avx2.MultiplyAddAdjacent(hi, Vector256.Load(x + 16))),
            Vector256.Create(scale), acc);

    /// <summary>acc + scale · (q_w · q_x), one block: vpmaddwd, then convert and fused multiply-add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Block(Vector512<short> w, short* x, float scale, Vector512<float> acc) =>
        Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(w, Vector512.Load(x))), Vector512.Create(scale), acc);

    /// <summary>Σ_b d_w[b]·d_x[b]·Σ_j q_w[b,j]·q_x[b,j] — integer dot per block, f32 accumulation across blocks.</summary>
    internal static float Q8(byte* w, short* xq, float* xd, int blocks)
    {
        var table = HalfTablePtr;
        var b = 0;
        var sum = 0f;
        if (Avx512)
        {
            Vector512<float> a0 = default, a1 = default;
            for (; b + 2 <= blocks; b += 2)
            {
                var p0 = w + b * DTypes.Q8BlockBytes;
                var p1 = p0 + DTypes.Q8BlockBytes;
                var i0 = Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)(p0 + 2))), Vector512.Load(xq + b * 32));
                var i1 = Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)(p1 + 2))), Vector512.Load(xq + b * 32 + 32));
                a0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i0), Vector512.Create(table[*(ushort*)p0] * xd[b]), a0);
                a1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i1), Vector512.Create(table[*(ushort*)p1] * xd[b + 1]), a1);
            }
            if (b < blocks)
            {
                var p0 = w + b * DTypes.Q8BlockBytes;
                var i0 = Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.Load((sbyte*)(p0 + 2))), Vector512.Load(xq + b * 32));
                a0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i0), Vector512.Create(table[*(ushort*)p0] * xd[b]), a0);
                b++;
            }
            sum = Vector512.Sum(a0 + a1);
        }
        else if (Avx2Fma)
        {
            Vector256<float> a0 = default, a1 = default;
            for (; b + 2 <= blocks; b += 2)
            {
                var p0 = w + b * DTypes.Q8BlockBytes;
                var p1 = p0 + DTypes.Q8BlockBytes;
                a0 = Block(Avx2.ConvertToVector256Int16((sbyte*)(p0 + 2)), Avx2.ConvertToVector256Int16((sbyte*)(p0 + 18)), xq + b * 32, table[*(ushort*)p0] * xd[b], a0);
                a1 = Block(Avx2.ConvertToVector256Int16((sbyte*)(p1 + 2)), Avx2.ConvertToVector256Int16((sbyte*)(p1 + 18)), xq + b * 32 + 32, table[*(ushort*)p1] * xd[b + 1], a1);
            }
            if (b < blocks)
            {
                var p0 = w + b * DTypes.Q8BlockBytes;
                a0 = Block(Avx2.ConvertToVector256Int16((sbyte*)(p0 + 2)), Avx2.ConvertToVector256Int16((sbyte*)(p0 + 18)), xq + b * 32, table[*(ushort*)p0] * xd[b], a0);
                b++;
            }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; b < blocks; b++)
        {
            var p = w + b * DTypes.Q8BlockBytes;
            var q = (sbyte*)(p + 2);
            var s = 0;
            for (var j = 0; j < 32; j++) s += q[j] * xq[b * 32 + j];
            sum += table[*(ushort*)p] * xd[b] * s;
        }
        return sum;
    }
}
