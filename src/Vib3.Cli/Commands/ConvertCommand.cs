using System.CommandLine;
using Spectre.Console;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Planning;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Query;
using Vib3.Storage.Catalog;

namespace Vib3.Cli.Commands;

/// <summary>vib3 convert &lt;path&gt; --name NAME [--dtype TYPE|MIX] [--expert-dtype TYPE|MIX] [--dense-dtype TYPE] [--page-rows R]
/// [--tokenizer-fallback gpt2] [--page-layout coact --calibration TEXT [--calibration-tokens N]]</summary>
internal static class ConvertCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var path = new Argument<string>("path") { Description = "A Hugging Face folder (config.json + *.safetensors) or a .gguf file" };
        var name = new Option<string>("--name") { Description = "Name of the model in the catalog", Required = true };
        var dtype = new Option<string?>("--dtype")
        {
            Description = "Store 2-D weights as one type (f32, f16, bf16, q8_0, q6_k, q5_k, q4_k, q3_k, q4_0, q4_1, q5_0, q5_1), " +
                "or as one of llama.cpp's mixes (q4_k_m, q4_k_s, q5_k_m, q3_k_m, q2_k, iq4_xs) with its per-tensor rules (default: as in the source)",
        };
        var expertDtype = new Option<string?>("--expert-dtype") {
            Description = "Store the routed experts as this type, or by one of llama.cpp's mixes' per-layer rules, whatever --dtype says (e.g. q4_k or q4_k_m to offload them small)",
        };
        var denseDtype = new Option<string?>("--dense-dtype") { Description = "Store attention, shared experts, embeddings and output as this type, whatever --dtype says" };
        var pageRows = new Option<int?>("--page-rows")
        {
            Description = "Neuron rows per expert page (default: expert pages just under 2 MiB; a small expert is one page)",
            CustomParser = a =>
            {
                var text = a.Tokens.Count > 0 ? a.Tokens[0].Value : "";
                if (int.TryParse(text, out var rows)) return rows;
                a.AddError($"--page-rows: '{text}' is not a whole number");
                return null;
            },
        };
        var index = new Option<string?>("--index")
        {
            Description = "Then build the page index for USING RETRIEVAL with this key construction (mean_gate, svd_gate or gate_up), as CREATE INDEX does",
        };
        var tokenizerFallback = new Option<string?>("--tokenizer-fallback")
        {
            Description = "gpt2: split a pre-tokenizer vib3 does not know as GPT-2 does (token ids may differ; recorded in the manifest) instead of refusing the checkpoint",
        };
        var layout = new Option<string>("--page-layout")
        {
            Description = "How the experts' neurons are laid out in their pages: trained (as in the checkpoint) or coact (neurons needed for " +
                          "the same tokens share pages, the most often needed first as hot pages; calibrated on --calibration text)",
            DefaultValueFactory = _ => "trained",
        };
        layout.AcceptOnlyFromAmong("trained", "coact");
        var calibration = new Option<string?>("--calibration") { Description = "--page-layout coact: the text (plain, or .gz) the layout is calibrated on" };
        var calibrationTokens = new Option<int>("--calibration-tokens")
        {
            Description = "--page-layout coact: at most this many tokens of the calibration text", DefaultValueFactory = _ => 16384,
        };
        calibrationTokens.Validators.Add(v =>
        {
            if (v.GetValueOrDefault<int>() < 2) v.AddError("--calibration-tokens must be at least 2");
        });
        var command = new Command("convert", "Convert a checkpoint into a vib3 model store")
        {
            path, name, dtype, expertDtype, denseDtype, pageRows, index, tokenizerFallback, layout, calibration, calibrationTokens,
        };
        command.Validators.Add(v =>
        {
            // The raw token: a value outside trained|coact is the option's own error, and GetValue would throw on it here.
            var coact = v.GetResult(layout)?.Tokens is [{ Value: "coact" }];
            if (coact && v.GetValue(calibration) is null) v.AddError("--page-layout coact needs --calibration TEXT (the text the layout is calibrated on)");
            if (!coact && v.GetValue(calibration) is not null) v.AddError("--calibration is for --page-layout coact");
        });
        command.SetAction(async (r, ct) =>
        {
            var catalog = GlobalOptions.Catalog(r);
            var mix = r.GetValue(dtype) is { } m && LlamaCppMix.TryParse(m, out var named) ? named : null;
            var expertMix = r.GetValue(expertDtype) is { } em && LlamaCppMix.TryParse(em, out var expertNamed) ? expertNamed : null;
            var request = new ConversionRequest(
                r.GetValue(path)!, r.GetValue(name)!,
                mix is null && r.GetValue(dtype) is { } d ? ParseType("--dtype", d) : null,
                r.GetValue(pageRows),
                GlobalOptions.RamBudgetBytes(r),
                r.GetValue(tokenizerFallback),
                mix,
                expertMix is null && r.GetValue(expertDtype) is { } e ? ParseType("--expert-dtype", e) : null,
                r.GetValue(denseDtype) is { } dd ? ParseType("--dense-dtype", dd) : null,
                expertMix);
            var descriptors = DescriptorCatalog.LoadDefault();
            var manifest = r.GetValue(calibration) is { } text
                ? await RunAsync(console, progress => CoactivationLayout.ConvertAsync(catalog, descriptors, request,
                    new CalibrationOptions(text, r.GetValue(calibrationTokens)), progress, line => console.WriteLine(line), ct))
                : Run(console, new ModelConverter(catalog, descriptors), request);
            console.MarkupLineInterpolated($"converted [bold]{manifest.Name}[/]: {manifest.PageCount} pages, {ByteSize.Format(manifest.PageBytes)}, {manifest.DType}, R = {manifest.PageRows}");
            if (manifest.NeuronLayout is { } coact)
                console.WriteLine($"neurons laid out by co-activation on {coact.CalibrationTokens} tokens: " +
                                  $"{manifest.ExpertGrids.Sum(g => g.HotBundles?.Sum() ?? 0)} hot pages of {manifest.ExpertGrids.Sum(g => g.Experts * g.BundlesPerExpert)}");
            if (r.GetValue(index) is { } keys)
            {
                // Through the engine's own statement, so the index is exactly what CREATE INDEX builds.
                await using var engine = GlobalOptions.OpenEngine(r, GlobalOptions.EngineOptions(r, catalog.DataDir));
                using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
                session.Progress = line => console.WriteLine(line); // each layer as it is indexed
                var sql = $"CREATE INDEX ON MODEL {new Identifier(manifest.Name, Quoted: true)} WITH (keys = '{keys.Replace("'", "''", StringComparison.Ordinal)}')";
                await foreach (var result in session.ExecuteAsync(sql, ct: ct))
                    await foreach (var _ in result.Rows.WithCancellation(ct)) { }
            }
            return 0;
        });
        return command;
    }

    private static DType ParseType(string option, string text) => DTypes.TryParse(text, out var t)
        ? t
        : throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{option} {text}: not a type vib3 knows (it writes {DTypes.WritableNames}" +
            (option != "--dense-dtype" ? $", and llama.cpp's mixes {LlamaCppMix.Names})" : ")"));

    public static ModelManifest Run(IAnsiConsole console, ModelConverter converter, ConversionRequest request) =>
        RunAsync(console, progress => Task.FromResult(converter.Convert(request, progress))).GetAwaiter().GetResult();

    /// <summary>A conversion under progress bars: one per phase as the conversion reports it ("write", "verify"; a
    /// co-activation layout's first conversion reports "calibration write" and "calibration verify"). Off a terminal
    /// (a pipe, a log) the bars are lines instead: each phase at every quarter, and always its 100 %.</summary>
    private static async Task<ModelManifest> RunAsync(IAnsiConsole console, Func<IProgress<ConversionProgress>, Task<ModelManifest>> convert)
    {
        if (!console.Profile.Capabilities.Interactive) return await RunPlainAsync(console, convert);
        ModelManifest? manifest = null;
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                     new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                manifest = await convert(new InlineProgress(p =>
                {
                    if (!tasks.TryGetValue(p.Phase, out var task))
                        tasks[p.Phase] = task = ctx.AddTask(PhaseTitle(p.Phase));
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                }));
                foreach (var task in tasks.Values) task.Value = task.MaxValue;
            });
        return manifest!;
    }

    /// <summary>Progress as lines, "verifying: 50%": a phase's first report, each quarter it passes, and its end.</summary>
    private static async Task<ModelManifest> RunPlainAsync(IAnsiConsole console, Func<IProgress<ConversionProgress>, Task<ModelManifest>> convert)
    {
        var printed = new Dictionary<string, int>(); // phase → the last percentage printed
        var gate = new object();
        void Line(string phase, int percent)
        {
            printed[phase] = percent;
            console.WriteLine($"{PhaseTitle(phase)}: {percent}%");
        }
        var manifest = await convert(new InlineProgress(p =>
        {
            var percent = (int)(100 * p.Done / Math.Max(1, p.Total));
            lock (gate)
                if (!printed.TryGetValue(p.Phase, out var last) || percent / 25 > last / 25) Line(p.Phase, percent);
        }));
        lock (gate)
            foreach (var phase in printed.Where(x => x.Value < 100).Select(x => x.Key).ToList()) Line(phase, 100);
        return manifest;
    }

    private static string PhaseTitle(string phase) => phase switch
    {
        "write" => "writing pages",
        "verify" => "verifying",
        "calibration write" => "writing pages as trained (to calibrate)",
        "calibration verify" => "verifying (to calibrate)",
        _ => phase,
    };

    /// <summary>Reports on the caller's thread (System.Progress would post to the thread pool, out of order).</summary>
    private sealed class InlineProgress(Action<ConversionProgress> report) : IProgress<ConversionProgress>
    {
        public void Report(ConversionProgress value) => report(value);
    }
}
