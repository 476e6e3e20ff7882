using Vib3.Core;

namespace Vib3.Tests.Core;

public sealed class ByteSizeTests
{
    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("2gib", 2L << 30)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("64k", 64L << 10)]
    [InlineData(" 3 G ", 3L << 30)]
    public void Parses_budgets(string text, long bytes) => Assert.Equal(bytes, ByteSize.Parse(text));

    [Theory]
    [InlineData("lots")]
    [InlineData("-1GiB")]
    [InlineData("")]
    [InlineData("GiB")]
    public void Rejects_nonsense_with_the_text_in_the_message(string text)
    {
        var e = Assert.Throws<Vib3Exception>(() => ByteSize.Parse(text));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains($"'{text}'", e.Message);
    }

    [Theory]
    [InlineData(512L, "512 B")]
    [InlineData(1536L, "1.50 KiB")]
    [InlineData(2L << 30, "2.00 GiB")]
    public void Formats(long bytes, string text) => Assert.Equal(text, ByteSize.Format(bytes));
}
