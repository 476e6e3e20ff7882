namespace Vib3.Kernels.Tests;

/// <summary>The vector form of the legacy blocks' integer products equals the scalar form exactly, for every
/// offset the types use, with and without fifth bits, at the extremes of the activation quants.</summary>
public sealed unsafe class LegacyBlockDotTests
{
    [Theory]
    [InlineData(-8)]  // Q4_0
    [InlineData(-16)] // Q5_0
    [InlineData(0)]   // Q4_1, Q5_1
    public void Vector_products_equal_scalar(int offset)
    {
        var rng = new Random(offset + 100);
        var qs = new byte[16];
        var q = new short[32];
        for (var i = 0; i < 2000; i++)
        {
            rng.NextBytes(qs);
            for (var j = 0; j < 32; j++) q[j] = (short)(i % 10 == 0 ? (j % 2 == 0 ? 127 : -127) : rng.Next(-127, 128));
            var qh = i % 3 == 0 ? 0u : i % 7 == 0 ? uint.MaxValue : (uint)rng.NextInt64(0, 1L << 32);
            fixed (byte* pqs = qs)
            fixed (short* pq = q)
                Assert.Equal(BlockRowDot.ProductsScalar(pqs, qh, offset, pq), BlockRowDot.ProductsVector(pqs, qh, offset, pq));
        }
    }
}
