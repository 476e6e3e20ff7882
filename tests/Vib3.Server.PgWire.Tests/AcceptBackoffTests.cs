namespace Vib3.Server.PgWire.Tests;

public sealed class AcceptBackoffTests
{
    [Fact]
    public void Pauses_double_from_10_ms_to_at_most_1_s_and_start_over_after_a_success()
    {
        var backoff = new AcceptBackoff();
        var pauses = Enumerable.Range(0, 9).Select(_ => (int)backoff.Next().TotalMilliseconds).ToArray();
        Assert.Equal([10, 20, 40, 80, 160, 320, 640, 1000, 1000], pauses);
        backoff.Reset();
        Assert.Equal(TimeSpan.FromMilliseconds(10), backoff.Next());
    }
}
