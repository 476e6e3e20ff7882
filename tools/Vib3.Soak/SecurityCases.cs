using System.Text;

namespace Vib3.Soak;

/// <summary>The battery: issue 16's hostile inputs, each against the live server (or a separate vib3 process where
/// the finding was in one), every loop bounded and every address 127.0.0.1.</summary>
internal static class SecurityCases
{
    private const string Model = SecurityCommand.ModelName;
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ConvertDeadline = TimeSpan.FromSeconds(60); // vib3-moe converts in a few seconds

    /// <summary>How long the fifth GENERATE retries while four idle bound portals hold the slots.</summary>
    private static readonly TimeSpan SlotWindow = TimeSpan.FromSeconds(40);

    private static string Nots(int n) => "SELECT " + string.Concat(Enumerable.Repeat("NOT ", n)) + "TRUE";

    /// <summary>60 MiB of ordinary words: text a tokenizer handles linearly, so only its size is hostile.</summary>
    private static string HugePrompt() => Prompt(60 << 20);

    private static string Prompt(int bytes) => string.Concat(Enumerable.Repeat("word ", bytes / 5));

    public static readonly IReadOnlyList<SoakCase> All =
    [
        new("sql-not-6000-psql", "SELECT + 6,000 × NOT + TRUE via psql", Short, ctx => Probes.PsqlAsync(ctx, Nots(6000), Short)),
        new("sql-and-10000-psql", "SELECT TRUE + 10,000 × AND TRUE via psql", Short,
            ctx => Probes.PsqlAsync(ctx, "SELECT TRUE" + string.Concat(Enumerable.Repeat(" AND TRUE", 10_000)), Short)),
        new("sql-not-100k-parse", "Parse message with 100,000 NOTs (extended protocol)", Short,
            ctx => Probes.RawQueryAsync(ctx, [.. PgRaw.Parse(Nots(100_000)), .. PgRaw.Sync()], Short)),
        new("query-parens-4000-cli", "vib3 query 'SELECT ' + 4,000 nested ( ) (separate process)", TimeSpan.FromSeconds(60), async ctx =>
            Seen.Of("vib3 query", await ctx.Cli.RunAsync(TimeSpan.FromSeconds(50), "query", "SELECT " + new string('(', 4000) + "1" + new string(')', 4000)))),
        new("tcp-flood-2000", "2,000 bare TCP connections to the PG port, held 3 s, then closed", TimeSpan.FromSeconds(90), TcpFloodAsync),
        new("sasl-64mib-x20", "20 connections announcing a 64 MiB SASL message (password server)", TimeSpan.FromSeconds(60), SaslAnnouncementsAsync, NeedsPassword: true),
        new("prompt-60mib-pg", "GENERATE with a 60 MiB prompt over the wire (simple query)", TimeSpan.FromSeconds(120),
            ctx => Probes.RawQueryAsync(ctx, PgRaw.Query($"GENERATE '{HugePrompt()}' FROM MODEL {Model} MAX_TOKENS 1"), TimeSpan.FromSeconds(110))),
        new("prompt-8mib-pg", "GENERATE with an 8 MiB prompt (under the message limit, far over the context)", TimeSpan.FromSeconds(60),
            ctx => Probes.RawQueryAsync(ctx, PgRaw.Query($"GENERATE '{Prompt(8 << 20)}' FROM MODEL {Model} MAX_TOKENS 1"), TimeSpan.FromSeconds(50))),
        new("prompt-60mib-http", "POST /v1/completions with a 60 MiB prompt", TimeSpan.FromSeconds(60),
            ctx => Probes.PostAsync(ctx, "v1/completions", new StringContent($$"""{"model": "{{Model}}", "max_tokens": 1, "prompt": "{{HugePrompt()}}"}""", Encoding.UTF8, "application/json"), TimeSpan.FromSeconds(50))),
        new("generate-portals-4+1", "4 connections hold bound, never-executed GENERATE portals; a 5th GENERATE", SlotWindow + TimeSpan.FromSeconds(30), IdlePortalsAsync),
        new("template-parens-20000", "chat_template of 20,000 nested ( ) → convert, then chat", TimeSpan.FromSeconds(150),
            ctx => HostileFolderAsync(ctx, "parens", d => ModelFolders.SetChatTemplate(d, "{{ " + new string('(', 20_000) + "'x'" + new string(')', 20_000) + " }}"), Chat)),
        new("template-range-1e8", "chat_template {% for i in range(100000000) %} → convert, then chat", TimeSpan.FromSeconds(150),
            ctx => HostileFolderAsync(ctx, "range", d => ModelFolders.SetChatTemplate(d, "{% for i in range(100000000) %}{{ i }}{% endfor %}"), Chat)),
        new("template-repeat-1e9", "chat_template {{ 'x' * 1000000000 }} → convert, then chat", TimeSpan.FromSeconds(150),
            ctx => HostileFolderAsync(ctx, "repeat", d => ModelFolders.SetChatTemplate(d, "{{ 'x' * 1000000000 }}"), Chat)),
        new("tokenizer-id-2147483647", "tokenizer.json vocabulary entry with id 2147483647 → convert, then GENERATE", TimeSpan.FromSeconds(150),
            ctx => HostileFolderAsync(ctx, "bigid", d => ModelFolders.EditJson(Path.Combine(d, "tokenizer.json"), o => o["model"]!["vocab"]!["<evil>"] = int.MaxValue), Generate)),
        new("config-dev-zero", "config.json a symlink to /dev/zero → convert", TimeSpan.FromSeconds(120),
            ctx => HostileFolderAsync(ctx, "devzero", d => { File.Delete(Path.Combine(d, "config.json")); File.CreateSymbolicLink(Path.Combine(d, "config.json"), "/dev/zero"); }, Generate)),
        new("config-fifo", "config.json a FIFO nobody writes → convert", TimeSpan.FromSeconds(120),
            ctx => HostileFolderAsync(ctx, "fifo", d => { File.Delete(Path.Combine(d, "config.json")); MakeFifo(Path.Combine(d, "config.json")); }, Generate)),
        new("store-pages-swapped", "a converted copy with two same-length pages.tbl rows swapped → GENERATE", TimeSpan.FromSeconds(150), SwappedPagesAsync),
        new("store-manifest-layers-0", "a converted copy with manifest.json layers = 0 → GENERATE", TimeSpan.FromSeconds(150), ManifestLayersZeroAsync),
        new("http-invalid-utf8", "chat and completions bodies with invalid UTF-8 and \\ud800 in string fields", Short, InvalidTextAsync),
    ];

    private static Task<Seen> Chat(CaseContext ctx, string model) => Probes.ChatAsync(ctx, model, Short);

    private static Task<Seen> Generate(CaseContext ctx, string model) => Probes.PsqlAsync(ctx, $"GENERATE 'hello' FROM MODEL {model} MAX_TOKENS 2", Short);

    /// <summary>Converts a tampered copy of the default model with `vib3 convert` (its own process, deadline and
    /// memory cap); a refusal is clean, an accepted one is then used through the server.</summary>
    private static async Task<Seen> HostileFolderAsync(CaseContext ctx, string name, Action<string> tamper, Func<CaseContext, string, Task<Seen>> use)
    {
        var dir = ModelFolders.Copy(ctx.Cli, ctx.Scratch, name);
        tamper(dir);
        var converted = await ctx.Cli.ConvertAsync(dir, name, ConvertDeadline);
        if (converted.ExitCode != 0) return Seen.Of("vib3 convert", converted);
        var used = await use(ctx, name);
        return used with { Detail = $"converted; then {used.Detail}" };
    }

    private static void MakeFifo(string path)
    {
        var r = ChildProcess.RunAsync("mkfifo", [path], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
        if (r.ExitCode != 0) throw new IOException($"mkfifo {path}: {r.FirstErrorLine}");
    }

    private static async Task<Seen> TcpFloodAsync(CaseContext ctx)
    {
        var open = await Probes.OpenAsync(ctx.Server.PgPort, 2_000, ctx.Cancel);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(3), ctx.Cancel);
            var fds = ProcessMemory.OpenFiles(ctx.Server.Pid);
            var during = await ctx.Server.PsqlAsync("SELECT 1", Limits.ProbeDeadline);
            return Seen.Clean($"{open.Count} of 2000 connected; server fds {fds?.ToString() ?? "?"}; SELECT 1 meanwhile: " +
                              (during.ExitCode == 0 ? "ok" : during.TimedOut ? "no answer" : during.FirstErrorLine));
        }
        finally
        {
            foreach (var c in open) c.Dispose();
        }
    }

    /// <summary>Each connection starts up, gets the SASL request, and sends a SASLInitialResponse header claiming
    /// 64 MiB, then half of it and never the rest: a server that allocates what is announced fills the buffer it
    /// made (untouched pages would not show in RSS); one that checks the length closes the connection at once.</summary>
    private const int AnnouncedSasl = 64 << 20;

    private static async Task<Seen> SaslAnnouncementsAsync(CaseContext ctx)
    {
        var held = new List<PgRaw>();
        var refused = 0;
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var c = await PgRaw.ConnectAsync(ctx.Server.PgPort, Short);
                held.Add(c);
                await c.SendStartupAsync();
                var m = await c.ReadUntilAsync('Z', Short);
                if (m.Type != 'R' || m.AuthCode != 10) return Seen.Unclean($"expected a SASL request, got '{m.Type}' {m.Error}");
                var header = new byte[5];
                header[0] = (byte)'p';
                System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), AnnouncedSasl);
                try
                {
                    await c.SendAsync([.. header, .. PgRaw.CString("SCRAM-SHA-256"), .. PgRaw.Int32(-1)], Short);
                    await c.SendAsync(new byte[AnnouncedSasl / 2], Short);
                }
                catch (IOException) { refused++; }
            }
            await Task.Delay(TimeSpan.FromSeconds(3), ctx.Cancel);
            return Seen.Clean($"20 announced; {refused} refused while sending; RSS held {ProcessMemory.Mb(ctx.Server.RssBytes)} MB");
        }
        finally
        {
            foreach (var c in held) await c.DisposeAsync();
        }
    }

    private static async Task<Seen> IdlePortalsAsync(CaseContext ctx)
    {
        var held = new List<PgRaw>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var c = await PgRaw.LoginAsync(ctx.Server.PgPort, Short);
                held.Add(c);
                await c.SendAsync([.. PgRaw.Parse($"GENERATE 'hello' FROM MODEL {Model} MAX_TOKENS 4"), .. PgRaw.Bind(), .. PgRaw.Flush()]);
                var m = await c.ReadUntilAsync('2', Short); // BindComplete
                if (m.Type == 'E') return Seen.Clean($"portal {i + 1} refused: {m.Error}");
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var last = "";
            while (clock.Elapsed < SlotWindow && !ctx.Cancel.IsCancellationRequested)
            {
                await using var fifth = await PgRaw.LoginAsync(ctx.Server.PgPort, Short);
                await fifth.SendAsync(PgRaw.Query($"GENERATE 'hello' FROM MODEL {Model} MAX_TOKENS 2"));
                var m = await fifth.ReadUntilAsync('Z', Short);
                if (m.Type == 'Z') return Seen.Clean($"5th GENERATE ran after {clock.Elapsed.TotalSeconds:0} s ({last})");
                last = m.Error;
                await Task.Delay(TimeSpan.FromSeconds(1), ctx.Cancel);
            }
            return new Seen(Outcome.Hang, $"slots held: 5th GENERATE refused for {SlotWindow.TotalSeconds:0} s ({last})");
        }
        finally
        {
            foreach (var c in held) await c.DisposeAsync();
        }
    }

    /// <summary>Converts the default model again under another name, to tamper with its store; a Seen only when that fails.</summary>
    private static async Task<Seen?> CleanCopyAsync(CaseContext ctx, string name)
    {
        var r = await ctx.Cli.ConvertAsync(ctx.Cli.DefaultModelFolder, name, ConvertDeadline);
        if (r.ExitCode == 0) return null;
        // a refusal to convert the untampered model tests nothing: not clean, whatever its error looks like
        var seen = Seen.Of("vib3 convert of the untampered model", r);
        return seen.Outcome == Outcome.Clean ? seen with { Outcome = Outcome.Unclean } : seen;
    }

    private static async Task<Seen> SwappedPagesAsync(CaseContext ctx)
    {
        const string copy = "swapped";
        if (await CleanCopyAsync(ctx, copy) is { } failed) return failed;
        if (ModelFolders.SwapPageRows(Path.Combine(ctx.Cli.DataDir, "models", copy)) is not var (a, b))
            return Seen.Unclean("pages.tbl is not in the layout this soak knows (version 1, 24-byte rows)");
        const string statement = "GENERATE 'Gets or sets a value' FROM MODEL {0} MAX_TOKENS 8 TEMPERATURE 0";
        var good = await ctx.Server.PsqlAsync(string.Format(statement, Model), Short);
        var bad = await ctx.Server.PsqlAsync(string.Format(statement, copy), Short);
        if (bad.TimedOut) return new Seen(Outcome.Hang, "GENERATE on the swapped copy: no answer");
        if (bad.ExitCode != 0)
            return Probes.PsqlError(bad) is { } error ? Probes.Judge(error) with { Detail = $"rows {a}/{b} swapped: {Text.Clip(error)}" } : Seen.Unclean($"psql: {bad.FirstErrorLine}");
        return Seen.Unclean(good.Stdout == bad.Stdout
            ? $"rows {a}/{b} swapped: not detected (output unchanged)"
            : $"rows {a}/{b} swapped: not detected, output silently differs");
    }

    private static async Task<Seen> ManifestLayersZeroAsync(CaseContext ctx)
    {
        const string copy = "nolayers";
        if (await CleanCopyAsync(ctx, copy) is { } failed) return failed;
        var manifest = Path.Combine(ctx.Cli.DataDir, "models", copy, "manifest.json");
        var edited = false;
        ModelFolders.EditJson(manifest, o => edited = SetLayers(o));
        if (!edited) return Seen.Unclean("manifest.json has no layers field this soak knows");
        var r = await ctx.Server.PsqlAsync($"GENERATE 'hello' FROM MODEL {copy} MAX_TOKENS 2", Short);
        if (r.TimedOut) return new Seen(Outcome.Hang, "GENERATE: no answer");
        if (r.ExitCode == 0) return Seen.Unclean("layers = 0 accepted: GENERATE produced text");
        return Probes.PsqlError(r) is { } error ? Probes.Judge(error) : Seen.Unclean($"psql: {r.FirstErrorLine}");
    }

    /// <summary>Sets the first "layers" property found (the manifest nests hyperparameters) to 0.</summary>
    private static bool SetLayers(System.Text.Json.Nodes.JsonObject o)
    {
        foreach (var (key, value) in o.ToList())
        {
            if (string.Equals(key, "layers", StringComparison.OrdinalIgnoreCase) && value is System.Text.Json.Nodes.JsonValue) { o[key] = 0; return true; }
            if (value is System.Text.Json.Nodes.JsonObject inner && SetLayers(inner)) return true;
        }
        return false;
    }

    private static async Task<Seen> InvalidTextAsync(CaseContext ctx)
    {
        byte[][] bodies =
        [
            [.. """{"model": "moe", "max_tokens": 1, "prompt": "a"""u8, 0xFF, .. "\"}"u8],
            """{"model": "moe", "max_tokens": 1, "messages": [{"role": "user", "content": "\ud800"}]}"""u8.ToArray(),
            """{"model": "moe\udc00", "max_tokens": 1, "prompt": "a"}"""u8.ToArray(),
        ];
        var seen = new List<string>();
        foreach (var (body, path) in bodies.Zip(["v1/completions", "v1/chat/completions", "v1/completions"]))
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            var s = await Probes.PostAsync(ctx, path, content, Short);
            if (s.Outcome != Outcome.Clean) return s;
            seen.Add(s.Detail.Split(':')[0]);
        }
        return Seen.Clean(string.Join(", ", seen));
    }
}
