using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vib3.Core;
using Vib3.Core.Quant;
using Vib3.Kernels.Quant;

namespace Vib3.Kernels;

/// <summary>An activation vector that several matvecs multiply (q, k and v of one layer; the gate and up rows of every
/// routed expert bundle; every page of the output matrix), with the quantised forms the block kernels take made once,
/// on first use, instead of once per <see cref="MatVec.Compute(DType, ReadOnlySpan{byte}, int, int, ReadOnlySpan{float}, Span{float})"/>
/// call, as ggml quantises an op's input once for all its rows. The forms are the same bytes a per-call quantisation
/// makes, so results do not change. <see cref="Set"/> copies x in (later writes to the caller's buffer cannot leave a
/// stale quantisation behind) and drops the forms made for the previous vector. One thread at a time.</summary>
public sealed class MatVecInput
{
    private readonly float[] _x;
    private readonly short[] _q8;    // q8_0 values as int16 (vpmaddwd), [capacity]
    private readonly sbyte[] _q8b;   // the same q8_0 values as int8 (the 4/5-bit and IQ4_NL kernels), [capacity]
    private readonly float[] _q8d;   // q8_0 block scales, [capacity / 32]
    private readonly float[] _q8s;   // q8_1 block sums for the types with a min, [capacity / 32]
    private readonly byte[] _q8k;    // Q8_K blocks, [capacity / 256 blocks]
    private readonly float[] _f16;   // x scaled for the f16 kernel, [capacity]
    private float _f16Post = 1f;     // the factor that undoes that scale
    private Forms _made;

    [Flags]
    private enum Forms
    {
        None = 0,
        Q8 = 1,
        Q8Sums = 2,
        Q8K = 4,
        F16 = 8,
        Q8Bytes = 16,
    }

    /// <param name="capacity">The longest vector <see cref="Set"/> will be given.</param>
    public MatVecInput(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _x = GC.AllocateArray<float>(capacity, pinned: true);
        _q8 = GC.AllocateArray<short>(capacity, pinned: true);
        _q8b = GC.AllocateArray<sbyte>(capacity, pinned: true);
        _q8d = GC.AllocateArray<float>(capacity / DTypes.Q8BlockSize, pinned: true);
        _q8s = GC.AllocateArray<float>(capacity / DTypes.Q8BlockSize, pinned: true);
        _q8k = GC.AllocateArray<byte>(capacity / Q8K.BlockValues * Q8K.BlockBytes, pinned: true);
        _f16 = GC.AllocateArray<float>(capacity, pinned: true);
    }

    /// <summary>The longest vector <see cref="Set"/> takes.</summary>
    public int Capacity => _x.Length;

    /// <summary>Values in the vector now held.</summary>
    public int Length { get; private set; }

    /// <summary>The f32 vector now held.</summary>
    public ReadOnlySpan<float> Values => _x.AsSpan(0, Length);

    /// <summary>Takes <paramref name="x"/> as the vector the next matvecs multiply.</summary>
    public void Set(ReadOnlySpan<float> x)
    {
        if (x.Length > _x.Length)
            throw new ArgumentException($"x: {x.Length} values, more than the {_x.Length} this input was made for");
        x.CopyTo(_x);
        Length = x.Length;
        _made = Forms.None;
    }

    /// <summary>Makes the quantised form the kernels for weights of type <paramref name="t"/> read now, so that
    /// matvecs on several threads at once only read it (<see cref="Set"/> and the making are one thread's).</summary>
    public void Quantize(DType t) => Prepare(t);

    /// <summary>The arrays (pinned) the kernels for weights of type <paramref name="t"/> read, quantised now if this
    /// vector has not been for that kind of kernel yet.</summary>
    internal Prepared Prepare(DType t)
    {
        if (Length == 0) return Pointers();
        if (t == DType.F16)
        {
            if ((_made & Forms.F16) == 0)
            {
                unsafe
                {
                    fixed (float* px = _x)
                    fixed (float* ph = _f16)
                        _f16Post = RowDot.ScaleForF16(px, Length, ph);
                }
                _made |= Forms.F16;
            }
        }
        else if (MatVec.TakesQ8K(t))
        {
            if ((_made & Forms.Q8K) == 0)
            {
                Q8K.Quantize(_x.AsSpan(0, Length), _q8k);
                _made |= Forms.Q8K;
            }
        }
        else if (t.IsBlocked())
        {
            // Q8_0 takes the quants as int16, the other 32-value types as int8; the scales and sums are the same
            // numbers whichever width made them.
            var bytes = LegacyDots.Has(t);
            var form = bytes ? Forms.Q8Bytes : Forms.Q8;
            var sums = LegacyDots.NeedsSums(t);
            if ((_made & form) == 0 || (sums && (_made & Forms.Q8Sums) == 0))
            {
                unsafe
                {
                    fixed (float* px = _x)
                    fixed (short* pq = _q8)
                    fixed (sbyte* pb = _q8b)
                    fixed (float* pd = _q8d)
                    fixed (float* ps = _q8s)
                    {
                        var blocks = Length / DTypes.Q8BlockSize;
                        if (bytes) RowDot.QuantizeQ8Bytes(px, blocks, pb, pd, sums ? ps : null);
                        else RowDot.QuantizeQ8(px, blocks, pq, pd);
                    }
                }
                _made |= form | (sums ? Forms.Q8Sums : Forms.None);
            }
        }
        return Pointers();
    }

    /// <summary>The arrays are pinned (allocated so), so their addresses stay valid for as long as this input lives.</summary>
    private unsafe Prepared Pointers() => new(
        (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_x)),
        (short*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_q8)),
        (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_q8b)),
        (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_q8d)),
        (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_q8s)),
        (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_q8k)),
        (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_f16)),
        _f16Post);

    /// <summary>Where the kernels read the vector and its quantised forms: x [length], q8_0 values as int16 and as int8
    /// [length] and block scales [length/32], q8_1 block sums [length/32], Q8_K blocks, x scaled for f16 [length] and
    /// the factor undoing it.</summary>
    internal readonly unsafe struct Prepared(float* x, short* q8, sbyte* q8Bytes, float* q8d, float* q8s, byte* q8k, float* f16, float f16Post)
    {
        public float* X { get; } = x;
        public short* Q8 { get; } = q8;
        public sbyte* Q8Bytes { get; } = q8Bytes;
        public float* Q8D { get; } = q8d;
        public float* Q8S { get; } = q8s;
        public byte* Q8K { get; } = q8k;
        public float* F16 { get; } = f16;
        public float F16Post { get; } = f16Post;
    }
}
