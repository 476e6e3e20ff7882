using System.Diagnostics;

namespace Vib3.Soak;

/// <summary>SIGTERM under load: 32 clients streaming generations back to back (16 GENERATE … STREAM through Npgsql, 16
/// HTTP streams; a generation may end early at the model's end-of-text token), then SIGTERM once every one has
/// received text. Judged: the server exits 0 within its
/// --shutdown-timeout, and every client's last request got a complete answer or a clear end — 57014 / 57P01 over
/// Postgres; over HTTP a stream closed without `[DONE]`, or 503 for a request that arrived while stopping — and none
/// is left waiting.</summary>
internal static class SigtermCase
{
    private const int PgClients = 16, HttpClients = 16, MaxTokens = 1000;
    private const int ShutdownSeconds = 10;

    private static readonly string[] ServeOptions =
        ["--shutdown-timeout", $"{ShutdownSeconds}", "--max-connections", "24", "--max-generations", $"{PgClients}"];

    /// <summary>Postgres errors that say a statement ended because the server is stopping.</summary>
    private static readonly string[] ClearPgEnds = ["57014", "57P01"];

    /// <summary>The HTTP answer to a request that arrives while the server stops ("the server is stopping").</summary>
    private const string ClearHttpRefusal = "HTTP 503:";

    /// <summary>How long every stream may take to deliver its first text.</summary>
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);

    /// <summary>How long after the server's exit a client may take to notice.</summary>
    private static readonly TimeSpan ClientGrace = TimeSpan.FromSeconds(5);

    public static ReliabilityCase Case { get; } = new("sigterm-32-streams",
        $"{PgClients} Npgsql GENERATE … STREAM + {HttpClients} HTTP streams back to back (MAX_TOKENS {MaxTokens}), SIGTERM once all have text; --shutdown-timeout {ShutdownSeconds}",
        TimeSpan.FromSeconds(120), RunAsync);

    private static async Task<Verdict> RunAsync(ReliabilityContext ctx)
    {
        await using var server = await VibServer.StartAsync(ctx.Cli, null, ServeOptions);
        using var http = HttpGeneration.Client(server);
        var model = SoakSetup.ModelName;
        using var clients = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancel);
        var started = new StartedClients(PgClients + HttpClients);
        var slowestLogin = 0L; // ticks
        void LoggedIn(TimeSpan t) => InterlockedMax(ref slowestLogin, t.Ticks);
        var tasks = Enumerable.Range(0, PgClients).Select(i => PgStreamAsync(server, model, i, started.OnFirstPiece(), LoggedIn, clients.Token))
            .Concat(Enumerable.Range(0, HttpClients).Select(i => HttpStreamAsync(http, model, i, started.OnFirstPiece(), clients.Token))).ToList();
        var allStarted = await started.AllAsync(StartDeadline, ctx.Cancel);
        var running = tasks.Count(t => !t.IsCompleted);

        server.Signal(Posix.SigTerm);
        var clock = Stopwatch.StartNew();
        var exited = await server.Process.WaitForExitAsync(ctx.Cancel).WaitAsync(TimeSpan.FromSeconds(ShutdownSeconds) + ClientGrace)
            .ContinueWith(t => t.IsCompletedSuccessfully);
        var toExit = clock.Elapsed;
        var ended = await Task.WhenAll(tasks).WaitAsync(ClientGrace).ContinueWith(t => t.IsCompletedSuccessfully);
        await clients.CancelAsync(); // a client still waiting now is hung: its deadline ends it as TimedOut
        var ends = await Task.WhenAll(tasks);
        var answers = ends.Select(e => e.Last).ToArray();
        var pg = answers[..PgClients];
        var web = answers[PgClients..];
        var problems = new List<string>();
        if (!allStarted) problems.Add($"only {started.Started} of {PgClients + HttpClients} streams had text within {StartDeadline.TotalSeconds:0} s");
        if (!exited) problems.Add($"still running {toExit.TotalSeconds:0.0} s after SIGTERM");
        else if (server.Process.ExitCode != 0) problems.Add($"exit {server.Process.ExitCode}: {Text.FatalLine(await server.OutputAsync())}");
        else if (toExit > TimeSpan.FromSeconds(ShutdownSeconds)) problems.Add($"exited after {toExit.TotalSeconds:0.0} s, past --shutdown-timeout {ShutdownSeconds}");
        if (!ended) problems.Add($"{answers.Count(a => a.Ending == Ending.TimedOut)} clients still waiting {ClientGrace.TotalSeconds:0} s after the server exited");
        var unclearPg = pg.Where(a => a.Ending is Ending.Closed or Ending.TimedOut || (a.Ending == Ending.Refused && !ClearPgEnds.Contains(a.SqlState))).ToList();
        if (unclearPg.Count > 0) problems.Add($"{unclearPg.Count} Postgres clients ended unclearly: {Text.Clip(unclearPg[0].Why, 80)}");
        var unclearHttp = web.Where(a => a.Ending == Ending.TimedOut || (a.Ending == Ending.Refused && !a.Why.StartsWith(ClearHttpRefusal, StringComparison.Ordinal))).ToList();
        if (unclearHttp.Count > 0) problems.Add($"{unclearHttp.Count} HTTP clients ended unclearly: {Text.Clip(unclearHttp[0].Why, 80)}");

        var pgEnds = string.Join(", ", pg.GroupBy(a => a.Ending == Ending.Refused ? a.SqlState : a.Ending.ToString().ToLowerInvariant()).Select(g => $"{g.Count()} {g.Key}"));
        var httpEnds = string.Join(", ", web.GroupBy(a => a.Ending == Ending.Refused ? a.Why.Split(':')[0] : a.Ending.ToString().ToLowerInvariant()).Select(g => $"{g.Count()} {g.Key}"));
        var figures = $"Postgres logins took up to {TimeSpan.FromTicks(slowestLogin).TotalSeconds:0.0} s; {running} clients streaming at SIGTERM ({ends.Sum(e => e.Completed)} generations completed before); exit {(exited ? server.Process.ExitCode.ToString() : "none")} " +
                      $"{toExit.TotalSeconds:0.00} s after it; Postgres: {pgEnds}; HTTP: {httpEnds}; " +
                      $"{answers.Sum(a => a.Pieces)} pieces of text in the interrupted streams";
        return Verdict.Of(figures, problems, "drained: every client ended clearly, exit 0");
    }

    /// <summary>Streams GENERATEs back to back on one connection until one does not complete (the server stopped);
    /// returns how many completed and how the last one ended.</summary>
    private static async Task<(int Completed, Answer Last)> PgStreamAsync(VibServer server, string model, int client, Action onPiece,
        Action<TimeSpan> loggedIn, CancellationToken ct)
    {
        var completed = 0;
        try
        {
            var login = Stopwatch.StartNew();
            await using var c = await PgGeneration.OpenAsync(server, TimeSpan.Zero, ct); // no command timeout: the stream runs until stopped
            loggedIn(login.Elapsed);
            while (true)
            {
                var a = await PgGeneration.RunAsync(c, PgGeneration.Sql(model, Prompt(client, completed), MaxTokens, stream: true), ct, onPiece);
                if (!a.Ok) return (completed, a);
                completed++;
            }
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or OperationCanceledException)
        {
            return (completed, new Answer(Ending.Refused, "", 0, $"connect: {e.GetBaseException().Message}", TimeSpan.Zero));
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
    }

    /// <summary>Streams completions back to back until one does not complete.</summary>
    private static async Task<(int Completed, Answer Last)> HttpStreamAsync(HttpClient http, string model, int client, Action onPiece, CancellationToken ct)
    {
        var route = client % 2 == 0 ? HttpGeneration.Completions : HttpGeneration.Chat;
        for (var completed = 0; ; completed++)
        {
            var a = await HttpGeneration.RunAsync(http, route, model, Prompt(client, completed), MaxTokens, stream: true, ct, onPiece);
            if (!a.Ok) return (completed, a);
        }
    }

    private static string Prompt(int client, int request) => $"Stream {client}, story {request}: once upon a time";
}
