namespace Vib3.Synth;

/// <summary>Our own deterministic generator (splitmix64 seeding + xorshift64*), so synthetic weights never
/// change with the runtime's System.Random implementation.</summary>
public sealed class SynthRandom
{
    private ulong _state;

    public SynthRandom(ulong seed)
    {
        _state = SplitMix(seed);
        if (_state == 0) _state = 0x9E3779B97F4A7C15UL;
    }

    /// <summary>A generator for one tensor: the model seed mixed with a hash of the tensor's HF name.</summary>
    public static SynthRandom ForTensor(long modelSeed, string name) => new(SplitMix((ulong)modelSeed) ^ Fnv1a(name));

    public ulong NextUInt64()
    {
        var x = _state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        _state = x;
        return x * 0x2545F4914F6CDD1DUL;
    }

    /// <summary>Uniform in [0, 1) with 24 bits of precision.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [-a, a).</summary>
    public float NextSymmetric(float a) => (NextFloat() * 2f - 1f) * a;

    public static ulong SplitMix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static ulong Fnv1a(string s)
    {
        var h = 0xCBF29CE484222325UL;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(s))
        {
            h ^= b;
            h *= 0x100000001B3UL;
        }
        return h;
    }
}
