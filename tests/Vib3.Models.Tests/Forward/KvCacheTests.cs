using Vib3.Models.Inference;

namespace Vib3.Models.Tests.Forward;

public sealed class KvCacheTests
{
    /// <summary>A batched step writes a whole chunk of positions layer by layer before Length moves: growth in the
    /// middle of it must keep what earlier layers (and earlier rows) already wrote.</summary>
    [Theory]
    [InlineData(KvCacheType.F32)]
    [InlineData(KvCacheType.F16)]
    public void Growing_keeps_every_written_position_of_every_layer(KvCacheType type)
    {
        const int layers = 3, kvDim = 8, capacity = 300;
        var cache = new KvCache(layers, kvDim, capacity, type);
        Assert.True(cache.AllocatedBytes < cache.Bytes);
        float Value(int l, int p, int i) => l * 1000 + p + i / 16f; // f16 keeps it to within 1
        foreach (var (from, to) in new[] { (0, 100), (100, 230), (230, 300) }) // chunks crossing 64, 128, 256
        {
            for (var l = 0; l < layers; l++)
                for (var p = from; p < to; p++)
                {
                    var k = Enumerable.Range(0, kvDim).Select(i => Value(l, p, i)).ToArray();
                    cache.Write(l, p, k, k.Select(x => -x).ToArray());
                }
            cache.Length = to;
        }
        Assert.Equal(cache.Bytes, cache.AllocatedBytes);

        var copy = new KvCache(layers, kvDim, capacity, type);
        copy.CopyPrefixFrom(cache, 300);
        foreach (var c in new[] { cache, copy })
            for (var l = 0; l < layers; l++)
                for (var p = 0; p < capacity; p++)
                    for (var i = 0; i < kvDim; i++)
                    {
                        Assert.Equal(Value(l, p, i), c.Read(key: true, l, p, i), 1.0);
                        Assert.Equal(-Value(l, p, i), c.Read(key: false, l, p, i), 1.0);
                    }
        Assert.Equal(300, copy.Length);
    }
}
