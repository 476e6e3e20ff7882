using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Cli;

/// <summary>SIGTERM while a long generation streams (30000 tokens take this model over a minute): the server cancels it (the stream ends without [DONE]),
/// closes its stores and exits 0 within --shutdown-timeout, in a real `vib3 serve` process.</summary>
public sealed class ServeDrainTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A synthetic Mixtral with a long context, so that one request can run for far longer than the test.</summary>
    private static string LongContextModel(TempDir dir)
    {
        var source = Path.Combine(dir.Path, "hf");
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Mixtral, Layers = 2, Dim = 64, ExpertHidden = 64, Heads = 4, KvHeads = 2,
            Experts = 4, TopK = 2, Vocab = 300, Context = 32768, Seed = 11, DType = DType.F32,
        }, source);
        var data = Path.Combine(dir.Path, "data");
        new ModelConverter(new ModelCatalog(data), DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, "m", DType.F32, PageRows: 32));
        return data;
    }

    /// <summary>Until /metrics shows a sequence in a running batch (the generation is under way).</summary>
    private static async Task WaitUntilRunningAsync(HttpClient http, int port)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
            if (Regex.IsMatch(metrics, @"^vib3_requests_running [1-9]", RegexOptions.Multiline)) return;
            await Task.Delay(50);
        }
        throw new TimeoutException("the generation never showed as running in /metrics");
    }

    [Fact]
    public async Task Sigterm_during_an_http_stream_cancels_it_and_exits_0_within_the_shutdown_timeout()
    {
        using var dir = new TempDir();
        var data = LongContextModel(dir);
        using var serve = ServeProcess.WithDefaultSignals(data, "--http-port", "0", "--shutdown-timeout", "5");
        var line = await serve.LineAsync("OpenAI-compatible API on", StartTimeout);
        var port = int.Parse(Regex.Match(line, @"127\.0\.0\.1:(\d+)/").Groups[1].Value);
        // no --ram-budget: the banner says what the default came to and why
        Assert.Matches(@"^vib3: RAM budget for model pages [\d.]+ [KMGT]iB \(75% of the [\d.]+ [KMGT]iB this process may use, (the machine's memory|its cgroup's limit)\)$",
            await serve.LineAsync("RAM budget for model pages", StartTimeout));

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"m","messages":[{"role":"user","content":"on and on"}],"max_tokens":30000,"temperature":0,"stream":true}""",
                Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        var answer = http.SendAsync(request); // its events may reach us only at the end: we watch /metrics instead
        await WaitUntilRunningAsync(http, port);

        var signalled = DateTime.UtcNow;
        serve.Signal(15);
        var rest = await (await answer).Content.ReadAsStringAsync(); // returns once the server ends the stream
        var (code, error) = await serve.ExitAsync(TimeSpan.FromSeconds(10));

        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.DoesNotContain("[DONE]", rest); // cancelled, not finished: 30000 tokens take far longer
        Assert.True(DateTime.UtcNow - signalled < TimeSpan.FromSeconds(5), $"stopping took {DateTime.UtcNow - signalled}");
        await serve.LineAsync("vib3: stopped", TimeSpan.FromSeconds(1));
    }
}
