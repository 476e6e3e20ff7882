using Vib3.Core;

namespace Vib3.Index.Tests;

public sealed class HnswFormatTests
{
    private static readonly float[] Data = TestData.Gaussian(2_000, 12, seed: 10);

    private static byte[] Bytes(HnswOptions options, VectorMetric metric = VectorMetric.L2)
    {
        var stream = new MemoryStream();
        new HnswIndex(Data, 12, metric, options).Save(stream);
        return stream.ToArray();
    }

    [Theory]
    [InlineData(VectorMetric.L2)]
    [InlineData(VectorMetric.Cosine)]
    [InlineData(VectorMetric.InnerProduct)]
    public void A_loaded_index_answers_exactly_as_the_saved_one(VectorMetric metric)
    {
        var index = new HnswIndex(Data, 12, metric);
        var loaded = HnswIndexTests.RoundTrip(index);
        Assert.Equal((index.Count, index.Dimensions, index.Metric, index.M, index.MaxLevel, index.EntryPoint),
            (loaded.Count, loaded.Dimensions, loaded.Metric, loaded.M, loaded.MaxLevel, loaded.EntryPoint));
        var queries = TestData.Gaussian(50, 12, seed: 11);
        Neighbor[] a = new Neighbor[10], b = new Neighbor[10];
        for (var q = 0; q < 50; q++)
        {
            index.Search(queries.AsSpan(q * 12, 12), 10, a, 32);
            loaded.Search(queries.AsSpan(q * 12, 12), 10, b, 32);
            Assert.Equal(a, b);
        }
    }

    [Fact]
    public void The_same_seed_gives_identical_bytes_and_another_seed_does_not()
    {
        var first = Bytes(new HnswOptions(Seed: 5));
        Assert.Equal(first, Bytes(new HnswOptions(Seed: 5)));
        Assert.NotEqual(first, Bytes(new HnswOptions(Seed: 6)));
    }

    [Fact]
    public void A_flipped_byte_anywhere_is_data_corruption_naming_the_source()
    {
        var bytes = Bytes(new HnswOptions(M: 4, EfConstruction: 20));
        // Header fields, the vectors, the levels, the lists and the checksum itself.
        foreach (var at in new[] { 0, 9, 13, 17, 21, 25, 29, 33, 37, 40, 5_000, bytes.Length / 2, bytes.Length - 20, bytes.Length - 1 })
        {
            var copy = (byte[])bytes.Clone();
            copy[at] ^= 0x10;
            var e = Load(copy, "keys.hnsw");
            Assert.Contains("keys.hnsw", e.Message);
        }
    }

    [Fact]
    public void Truncation_at_any_point_is_data_corruption()
    {
        var bytes = Bytes(new HnswOptions(M: 4, EfConstruction: 20));
        foreach (var length in new[] { 0, 7, 39, 40, 41, 1_000, bytes.Length / 2, bytes.Length - 9, bytes.Length - 1 })
        {
            var e = Load(bytes[..length], "cut.hnsw");
            Assert.Contains("cut.hnsw", e.Message);
            Assert.Contains("truncated", e.Message);
        }
    }

    [Fact]
    public void Wrong_magic_and_version_name_the_field()
    {
        var bytes = Bytes(new HnswOptions(M: 4, EfConstruction: 20));
        var copy = (byte[])bytes.Clone();
        "NOTHNSW!"u8.CopyTo(copy);
        Assert.Contains("magic", Load(copy, "x.bin").Message);
        copy = (byte[])bytes.Clone();
        copy[8] = 9;
        Assert.Contains("version", Load(copy, "x.bin").Message);
    }

    [Fact]
    public void A_non_seekable_stream_loads()
    {
        var bytes = Bytes(new HnswOptions(M: 4, EfConstruction: 20));
        var index = HnswIndex.Load(new ForwardOnly(bytes), "pipe");
        Assert.Equal(2_000, index.Count);
        Assert.Contains("pipe", Assert.Throws<Vib3Exception>(() => HnswIndex.Load(new ForwardOnly(bytes[..100]), "pipe")).Message);
    }

    private static Vib3Exception Load(byte[] bytes, string name)
    {
        var e = Assert.Throws<Vib3Exception>(() => HnswIndex.Load(new MemoryStream(bytes), name));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        return e;
    }

    private sealed class ForwardOnly(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 1000));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
