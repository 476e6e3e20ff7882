using System.Diagnostics;
using Npgsql;

namespace Vib3.Soak;

/// <summary>kill -9 during serving: with 8 streamed GENERATEs running and a CREATE MODEL of the large checkpoint a
/// quarter staged, the server is SIGKILLed and restarted on the same data directory. Judged: no client is left
/// waiting; after the restart SHOW MODELS lists exactly the models from before, with no error; every one generates
/// exactly what it generated before the kill (temperature 0, over Postgres and HTTP); the interrupted CREATE MODEL
/// succeeds when sent again (its staging junk blocks nothing) and its model generates what its source's first
/// conversion does.</summary>
internal static class ServeKillCase
{
    private const string Copy = "bigcopy";
    private const int Streams = 8, StreamTokens = 200, ReferenceTokens = 16;
    private const string ReferencePrompt = "The server was killed and started again, and then";

    private static readonly string[] ServeOptions = ["--max-connections", "24", "--max-generations", "16"];

    private static readonly TimeSpan Statement = TimeSpan.FromSeconds(120);

    /// <summary>How long after the kill a client may take to notice its connection is gone.</summary>
    private static readonly TimeSpan ClientGrace = TimeSpan.FromSeconds(5);

    public static ReliabilityCase Case { get; } = new("kill9-serving",
        $"{Streams} GENERATE … STREAM running + CREATE MODEL of the ~410 MB checkpoint a quarter staged: SIGKILL the server, restart on the same data dir",
        TimeSpan.FromSeconds(240), RunAsync);

    private static async Task<Verdict> RunAsync(ReliabilityContext ctx)
    {
        var problems = new List<string>();
        var source = ctx.Big.Folder;
        Dictionary<string, string> reference;
        List<(string Name, string? Error)> before;
        string httpReference;
        long staged;
        int streamedPieces, junk;
        await using (var first = await VibServer.StartAsync(ctx.Cli, null, ServeOptions))
        {
            before = await ShowModelsAsync(first, ctx.Cancel);
            reference = await GenerateEachAsync(first, before.Select(m => m.Name), ctx.Cancel);
            using (var http = HttpGeneration.Client(first))
                httpReference = (await HttpGeneration.RunAsync(http, HttpGeneration.Completions, SoakSetup.ModelName, ReferencePrompt, ReferenceTokens, false, ctx.Cancel)).Text;

            using var clients = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancel);
            var pieces = 0;
            var streams = Enumerable.Range(0, Streams).Select(i => StreamUntilGoneAsync(first, i, () => Interlocked.Increment(ref pieces), clients.Token)).ToList();
            var create = RunAsync(first, $"CREATE MODEL {Copy} FROM '{source.Replace("'", "''", StringComparison.Ordinal)}'", clients.Token);
            staged = await DataDir.WaitForStagedAsync(ctx.Cli.DataDir, Copy, ctx.Big.Bytes / 4, () => create.IsCompleted, Statement, ctx.Cancel);
            streamedPieces = Volatile.Read(ref pieces);
            if (create.IsCompleted) problems.Add($"CREATE MODEL ended before the kill ({(await create).Why}), {ProcessMemory.Mb(staged)} MB staged");
            if (streamedPieces == 0) problems.Add("no streamed GENERATE had produced text before the kill");

            first.Signal(Posix.SigKill);
            await first.Process.WaitForExitAsync(ctx.Cancel);
            junk = DataDir.Staging(ctx.Cli.DataDir, Copy).Count;
            var ended = await Task.WhenAll([.. streams, create]).WaitAsync(ClientGrace).ContinueWith(t => t.IsCompletedSuccessfully);
            await clients.CancelAsync();
            if (!ended) problems.Add($"clients still waiting {ClientGrace.TotalSeconds:0} s after the kill");
            await Task.WhenAll([.. streams, create]);
        }

        var clock = Stopwatch.StartNew();
        await using var second = await VibServer.StartAsync(ctx.Cli, null, ServeOptions);
        var restart = clock.Elapsed;
        var after = await ShowModelsAsync(second, ctx.Cancel);
        if (after.FirstOrDefault(m => m.Error is not null) is { Name: not null } broken) problems.Add($"after the restart SHOW MODELS has '{broken.Name}' with error: {broken.Error}");
        if (!after.Select(m => m.Name).Order().SequenceEqual(before.Select(m => m.Name).Order()))
            problems.Add($"SHOW MODELS before the kill: {string.Join(", ", before.Select(m => m.Name))}; after the restart: {string.Join(", ", after.Select(m => m.Name))}");
        var again = await GenerateEachAsync(second, after.Select(m => m.Name), ctx.Cancel);
        foreach (var (model, text) in reference)
            if (again.GetValueOrDefault(model) != text) problems.Add($"'{model}' generated {Quote(again.GetValueOrDefault(model))} after the restart, {Quote(text)} before");
        using (var http = HttpGeneration.Client(second))
        {
            var answer = await HttpGeneration.RunAsync(http, HttpGeneration.Completions, SoakSetup.ModelName, ReferencePrompt, ReferenceTokens, false, ctx.Cancel);
            if (!answer.Ok || answer.Text != httpReference) problems.Add($"HTTP completion after the restart {Quote(answer.Ok ? answer.Text : answer.Why)}, {Quote(httpReference)} before");
        }

        var recreate = await RunAsync(second, $"CREATE MODEL {Copy} FROM '{source.Replace("'", "''", StringComparison.Ordinal)}'", ctx.Cancel);
        if (!recreate.Ok) problems.Add($"CREATE MODEL {Copy} again after the restart: {recreate.Why}");
        else
        {
            var copied = await GenerateEachAsync(second, [Copy], ctx.Cancel);
            if (reference.TryGetValue(ConvertKillCase.Model, out var original) && copied[Copy] != original)
                problems.Add($"'{Copy}' generates {Quote(copied[Copy])}, its source's first conversion {Quote(original)}");
        }
        if (DataDir.Staging(ctx.Cli.DataDir, Copy).Count is var left and > 0) problems.Add($"{left} staging folder(s) of '{Copy}' left after CREATE MODEL succeeded");

        var figures = $"killed with {streamedPieces} streamed rows received and {ProcessMemory.Mb(staged)} of {ProcessMemory.Mb(ctx.Big.Bytes)} MB staged " +
                      $"({junk} staging folder left); " +
                      $"restart ready in {restart.TotalSeconds:0.0} s; {reference.Count} models + HTTP answered as before; CREATE MODEL again " +
                      $"{(recreate.Ok ? $"ok in {recreate.Elapsed.TotalSeconds:0.0} s" : "failed")}";
        return Verdict.Of(figures, problems, $"models {string.Join(", ", after.Select(m => m.Name))} reopened; outputs identical");
    }

    private static string Quote(string? s) => s is null ? "nothing" : $"'{Text.Clip(s, 40)}'";

    private static async Task<List<(string Name, string? Error)>> ShowModelsAsync(VibServer server, CancellationToken ct)
    {
        await using var c = await PgGeneration.OpenAsync(server, Statement, ct);
        await using var cmd = new NpgsqlCommand("SHOW MODELS", c);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var models = new List<(string, string?)>();
        var error = reader.GetOrdinal("error");
        while (await reader.ReadAsync(ct)) models.Add((reader.GetString(0), reader.IsDBNull(error) ? null : reader.GetString(error)));
        return models;
    }

    /// <summary>Each model's answer to the reference prompt at temperature 0 (its error text when it fails).</summary>
    private static async Task<Dictionary<string, string>> GenerateEachAsync(VibServer server, IEnumerable<string> models, CancellationToken ct)
    {
        await using var c = await PgGeneration.OpenAsync(server, Statement, ct);
        var texts = new Dictionary<string, string>();
        foreach (var m in models)
        {
            var a = await PgGeneration.RunAsync(c, PgGeneration.Sql(m, ReferencePrompt, ReferenceTokens, stream: false), ct);
            texts[m] = a.Ok ? a.Text : $"(failed: {a.Why})";
        }
        return texts;
    }

    private static async Task<Answer> RunAsync(VibServer server, string sql, CancellationToken ct)
    {
        try
        {
            await using var c = await PgGeneration.OpenAsync(server, Statement, ct);
            return await PgGeneration.RunAsync(c, sql, ct);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return new Answer(Ending.Closed, "", 0, $"connect: {e.GetBaseException().Message}", TimeSpan.Zero);
        }
    }

    /// <summary>Streams GENERATEs one after another until one does not complete (the server is gone).</summary>
    private static async Task<Answer> StreamUntilGoneAsync(VibServer server, int client, Action onPiece, CancellationToken ct)
    {
        try
        {
            await using var c = await PgGeneration.OpenAsync(server, Statement, ct);
            while (true)
            {
                var a = await PgGeneration.RunAsync(c, PgGeneration.Sql(SoakSetup.ModelName, $"Stream {client} keeps talking", StreamTokens, stream: true), ct, onPiece);
                if (!a.Ok) return a;
            }
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return new Answer(Ending.Closed, "", 0, $"connect: {e.GetBaseException().Message}", TimeSpan.Zero);
        }
    }
}
