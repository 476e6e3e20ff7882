using System.Numerics.Tensors;

namespace Vib3.Kernels;

/// <summary>Rotary position embedding over <c>heads</c> laid out [nHeads, headDim], applied in place.
/// Angles follow ggml's CPU rope bit for bit in f32: theta_scale = powf(base, -2/headDim), theta_0 = pos,
/// theta_{i+1} = theta_i · theta_scale (repeated f32 multiplication), then cosf/sinf of each theta.
/// At large positions this differs from the exact angle by up to ~i·ulp(pos) radians, exactly as llama.cpp does.</summary>
public static partial class Rope
{
    /// <summary>GPT-J / llama style: rotates consecutive pairs (x[2i], x[2i+1]).</summary>
    public static void Normal(Span<float> heads, int nHeads, int headDim, int pos, float theta)
        => Apply(heads, nHeads, headDim, pos, theta, neox: false);

    /// <summary>GPT-NeoX style: rotates (x[i], x[i + headDim/2]).</summary>
    public static void Neox(Span<float> heads, int nHeads, int headDim, int pos, float theta)
        => Apply(heads, nHeads, headDim, pos, theta, neox: true);

    public static void ReferenceNormal(Span<float> heads, int nHeads, int headDim, int pos, float theta)
        => ReferenceApply(heads, nHeads, headDim, pos, theta, neox: false);

    public static void ReferenceNeox(Span<float> heads, int nHeads, int headDim, int pos, float theta)
        => ReferenceApply(heads, nHeads, headDim, pos, theta, neox: true);

    /// <summary>The (cos, sin) table ggml computes for one position: half = headDim/2 entries each.</summary>
    internal static void Angles(int headDim, int pos, float theta, Span<float> cos, Span<float> sin)
    {
        var thetaScale = MathF.Pow(theta, -2.0f / headDim);
        var t = (float)pos;
        for (var i = 0; i < headDim / 2; i++)
        {
            cos[i] = MathF.Cos(t);
            sin[i] = MathF.Sin(t);
            t *= thetaScale;
        }
    }

    private static void CheckArgs(Span<float> heads, int nHeads, int headDim)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nHeads);
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"rope: headDim must be even and positive, got {headDim}");
        if (heads.Length < (long)nHeads * headDim) throw new ArgumentException($"rope: need {(long)nHeads * headDim} values, got {heads.Length}");
    }

    private static void Apply(Span<float> heads, int nHeads, int headDim, int pos, float theta, bool neox) =>
        Apply(heads, nHeads, headDim, new PlainAngles(pos, theta), neox);

    /// <summary>Fills one position's (cos, sin) table [headDim/2 each]: plain (<see cref="Angles"/>) or YaRN.</summary>
    private interface IAngleTable
    {
        void Fill(int headDim, Span<float> cos, Span<float> sin);
    }

    private readonly struct PlainAngles(int pos, float theta) : IAngleTable
    {
        public void Fill(int headDim, Span<float> cos, Span<float> sin) => Angles(headDim, pos, theta, cos, sin);
    }

    private static void Apply<TAngles>(Span<float> heads, int nHeads, int headDim, TAngles angles, bool neox) where TAngles : struct, IAngleTable
    {
        CheckArgs(heads, nHeads, headDim);
        var half = headDim / 2;
        // One cos/sin table per call (the transcendental work), shared by every head; the rotation is SIMD.
        var buf = half <= 512 ? stackalloc float[4 * half] : new float[4 * half];
        var cos = buf[..half];
        var sin = buf.Slice(half, half);
        var a = buf.Slice(2 * half, half);
        var b = buf.Slice(3 * half, half);
        angles.Fill(headDim, cos, sin);
        Rotate(heads, nHeads, headDim, cos, sin, a, b, neox);
    }

    /// <summary>Rotates every head [headDim] of <paramref name="heads"/> by one position's (cos, sin) table [headDim/2]
    /// (plain or YaRN); <paramref name="a"/> and <paramref name="b"/> are [headDim/2] scratch.</summary>
    private static void Rotate(Span<float> heads, int nHeads, int headDim, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin,
        Span<float> a, Span<float> b, bool neox)
    {
        var half = headDim / 2;
        for (var h = 0; h < nHeads; h++)
        {
            var x = heads.Slice(h * headDim, headDim);
            if (neox)
            {
                var x0 = x[..half];
                var x1 = x[half..];
                // x0' = x0·c − x1·s ; x1' = x0·s + x1·c   (products rounded separately, as scalar ggml)
                TensorPrimitives.Multiply(x0, cos, a);
                TensorPrimitives.Multiply(x1, sin, b);
                TensorPrimitives.Multiply(x0, sin, x0); // x0 now holds x0·s
                TensorPrimitives.Multiply(x1, cos, x1);
                TensorPrimitives.Add(x0, x1, x1);
                TensorPrimitives.Subtract(a, b, x0);
            }
            else
            {
                for (var i = 0; i < half; i++)
                {
                    var x0 = x[2 * i];
                    var x1 = x[2 * i + 1];
                    x[2 * i] = x0 * cos[i] - x1 * sin[i];
                    x[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }

    private static void ReferenceApply(Span<float> heads, int nHeads, int headDim, int pos, float theta, bool neox)
    {
        CheckArgs(heads, nHeads, headDim);
        var half = headDim / 2;
        var thetaScale = MathF.Pow(theta, -2.0f / headDim);
        for (var h = 0; h < nHeads; h++)
        {
            var x = heads.Slice(h * headDim, headDim);
            var t = (float)pos;
            for (var i = 0; i < half; i++)
            {
                float c = MathF.Cos(t), s = MathF.Sin(t);
                int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
                float x0 = x[i0], x1 = x[i1];
                x[i0] = x0 * c - x1 * s;
                x[i1] = x0 * s + x1 * c;
                t *= thetaScale;
            }
        }
    }
}
