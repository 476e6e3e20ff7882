using System.Diagnostics;

namespace Vib3.Soak;

/// <summary>Load: 64 clients × 20 requests over both servers at once — half GENERATE through Npgsql, half HTTP
/// completions and chat completions, every other request streamed — against a server whose limits are sized so that
/// all 64 fit (a refusal is a failure). Judged: every request answered, /metrics counted exactly the HTTP requests
/// sent, the server's RSS (before, after, peak) within bounds.</summary>
internal static class LoadCase
{
    private const int PgClients = 32, HttpClients = 32, RequestsPerClient = 20, MaxTokens = 8;

    /// <summary>Room for the 32 Postgres clients (and the probes) and their 32 concurrent GENERATEs; the HTTP queue
    /// (256) already holds 32.</summary>
    private static readonly string[] ServeOptions =
        ["--max-connections", "40", "--max-generations", $"{PgClients}", "--max-batch", "32", "--max-queue", "256"];

    private static readonly TimeSpan RequestDeadline = TimeSpan.FromSeconds(60);

    /// <summary>How long /metrics may lag the last response (its counters are updated as a request's pipeline unwinds).</summary>
    private static readonly TimeSpan MetricsSettle = TimeSpan.FromSeconds(2);

    public static ReliabilityCase Case { get; } = new("load-64x20",
        $"{PgClients} Npgsql + {HttpClients} HTTP clients × {RequestsPerClient} requests at once, MAX_TOKENS {MaxTokens}, half streamed",
        TimeSpan.FromSeconds(180), RunAsync);

    private static async Task<Verdict> RunAsync(ReliabilityContext ctx)
    {
        await using var server = await VibServer.StartAsync(ctx.Cli, null, ServeOptions);
        using var http = HttpGeneration.Client(server);
        var model = SoakSetup.ModelName;
        // the first request opens the model: measure the server serving it, not opening it
        var warm = await HttpGeneration.RunAsync(http, HttpGeneration.Completions, model, "warm up", MaxTokens, false, ctx.Cancel);
        if (!warm.Ok) return new Verdict(false, "", $"warm-up request failed: {warm.Why}");
        var rssBefore = server.RssBytes;
        var metricsBefore = await MetricsText.ScrapeAsync(http, ctx.Cancel);

        using var stopSampling = new CancellationTokenSource();
        var sampler = RssSampler.SampleAsync(server, stopSampling.Token);
        var clock = Stopwatch.StartNew();
        var pg = Enumerable.Range(0, PgClients).Select(i => PgClientAsync(server, model, i, ctx.Cancel));
        var web = Enumerable.Range(0, HttpClients).Select(i => HttpClientAsync(http, model, i, ctx.Cancel));
        var perClient = await Task.WhenAll(pg.Concat(web));
        var wall = clock.Elapsed;
        await stopSampling.CancelAsync();
        var (peak, killed) = await sampler;
        var rssAfter = server.RssBytes;

        var pgAnswers = perClient[..PgClients].SelectMany(a => a).ToList();
        var httpAnswers = perClient[PgClients..].SelectMany(a => a).ToList();
        var all = pgAnswers.Concat(httpAnswers).ToList();
        var failed = all.Where(a => !a.Ok).ToList();
        var problems = new List<string>();
        if (failed.Count > 0)
            problems.Add($"{failed.Count} failed: {string.Join(", ", failed.GroupBy(a => $"{a.Ending} {Text.Clip(a.Why, 60)}").Take(3).Select(g => $"{g.Count()} × {g.Key}"))}");
        var sentByRoute = perClient[PgClients..].Select((answers, i) => (Route: Route(i), answers.Count))
            .GroupBy(x => x.Route).ToDictionary(g => g.Key, g => g.Sum(x => x.Count));
        var metrics = await MetricsAgreeAsync(http, metricsBefore, sentByRoute, model, ctx.Cancel);
        if (metrics is not null) problems.Add(metrics);
        if (killed) problems.Add($"server killed at the {ProcessMemory.Mb(Limits.MemoryCapBytes)} MB cap");
        else if (rssBefore is { } b && rssAfter is { } a && a - b > Limits.RetainedGrowthBytes)
            problems.Add($"RSS grew {ProcessMemory.Mb(a - b)} MB and stayed");
        if (!await server.HealthyAsync()) problems.Add("server no longer answers /health");

        var ok = all.Where(a => a.Ok).Select(a => a.Elapsed).ToList();
        var figures = $"{all.Count(a => a.Ok)} ok / {failed.Count} failed in {wall.TotalSeconds:0.0} s ({all.Count / wall.TotalSeconds:0} req/s); " +
                      $"latency {Latency.Describe(ok)} (Postgres {Latency.Describe(pgAnswers.Where(x => x.Ok).Select(x => x.Elapsed).ToList())}, " +
                      $"HTTP {Latency.Describe(httpAnswers.Where(x => x.Ok).Select(x => x.Elapsed).ToList())}); " +
                      $"RSS {ProcessMemory.Mb(rssBefore)} → {ProcessMemory.Mb(rssAfter)} MB (peak {ProcessMemory.Mb(peak)})";
        return Verdict.Of(figures, problems, $"/metrics: {string.Join(", ", sentByRoute.Select(r => $"{r.Value} {r.Key}"))} counted exactly");
    }

    private static string Route(int client) => client % 2 == 0 ? HttpGeneration.Completions : HttpGeneration.Chat;

    private static string Prompt(int client, int request) => $"Client {client} asks question {request}: what does the engine read?";

    /// <summary>One Npgsql connection sending its requests one after another; every other one streamed.</summary>
    private static async Task<List<Answer>> PgClientAsync(VibServer server, string model, int client, CancellationToken ct)
    {
        var answers = new List<Answer>();
        try
        {
            await using var c = await PgGeneration.OpenAsync(server, RequestDeadline, ct);
            for (var r = 0; r < RequestsPerClient; r++)
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(RequestDeadline);
                answers.Add(await PgGeneration.RunAsync(c, PgGeneration.Sql(model, Prompt(client, r), MaxTokens, stream: r % 2 == 1), deadline.Token));
            }
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or OperationCanceledException)
        {
            // could not connect: the requests it would have sent are failures
            while (answers.Count < RequestsPerClient) answers.Add(new Answer(Ending.Refused, "", 0, $"connect: {e.GetBaseException().Message}", TimeSpan.Zero));
        }
        return answers;
    }

    /// <summary>One HTTP client sending its requests one after another to one route; every other one streamed.</summary>
    private static async Task<List<Answer>> HttpClientAsync(HttpClient http, string model, int client, CancellationToken ct)
    {
        var answers = new List<Answer>();
        for (var r = 0; r < RequestsPerClient; r++)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(RequestDeadline);
            answers.Add(await HttpGeneration.RunAsync(http, Route(client), model, Prompt(client, r), MaxTokens, stream: r % 2 == 1, deadline.Token));
        }
        return answers;
    }

    /// <summary>Null when /metrics counted, per route, exactly the requests sent (all statuses), and the end-to-end
    /// latency histogram one observation per request; else what differs.</summary>
    private static async Task<string?> MetricsAgreeAsync(HttpClient http, MetricsText before, Dictionary<string, int> sent, string model, CancellationToken ct)
    {
        var total = sent.Values.Sum();
        var settle = Stopwatch.StartNew();
        while (true)
        {
            var after = await MetricsText.ScrapeAsync(http, ct);
            var differences = new List<string>();
            foreach (var (route, count) in sent)
            {
                var label = $"endpoint=\"/{route}\"";
                var counted = after.Sum("vib3_http_requests_total", label) - (before.Sum("vib3_http_requests_total", label) ?? 0);
                if (counted != count) differences.Add($"vib3_http_requests_total{{{label}}} rose by {counted?.ToString() ?? "(missing)"}, {count} sent");
            }
            var modelLabel = $"model=\"{model}\"";
            var timed = after.Sum("vib3_e2e_request_latency_seconds_count", modelLabel) - (before.Sum("vib3_e2e_request_latency_seconds_count", modelLabel) ?? 0);
            if (timed != total) differences.Add($"vib3_e2e_request_latency_seconds_count rose by {timed?.ToString() ?? "(missing)"}, {total} HTTP requests sent");
            if (differences.Count == 0) return null;
            if (settle.Elapsed > MetricsSettle) return "/metrics: " + string.Join("; ", differences);
            await Task.Delay(100, ct);
        }
    }
}
