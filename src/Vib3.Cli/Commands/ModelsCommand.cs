using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Cli.Commands;

/// <summary>vib3 models · vib3 info NAME · vib3 drop NAME</summary>
internal static class ModelsCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var command = new Command("models", "List the stored models");
        command.SetAction(r =>
        {
            var models = GlobalOptions.Catalog(r).List();
            if (models.Count == 0)
            {
                console.WriteLine("no models (convert one with: vib3 convert <path> --name NAME)");
                return 0;
            }
            var table = new Table().AddColumns("name", "architecture", "layers", "experts", "dtype", "params", "active", "bytes", "pages");
            foreach (var (name, m, error) in models)
            {
                if (m is null)
                {
                    table.AddRow(Markup.Escape(name), $"[red]unreadable: {Markup.Escape(error ?? "")}[/]", "", "", "", "", "", "", "");
                    continue;
                }
                var layers = N(m.Hyper.Layers) + (m.Hyper.SkippedMtpLayers > 0 ? $" (+{m.Hyper.SkippedMtpLayers} MTP skipped)" : "");
                table.AddRow(Markup.Escape(name), Markup.Escape($"{m.Family} ({m.Source.Architecture})"), Markup.Escape(layers),
                    $"{m.Hyper.Experts} top-{m.Hyper.TopK}", m.DType, Count(m.Parameters), Count(m.ActiveParameters),
                    ByteSize.Format(m.PageBytes), N(m.PageCount));
            }
            console.Write(table);
            return 0;
        });
        return command;
    }

    public static Command CreateInfo(IAnsiConsole console)
    {
        var name = new Argument<string>("name") { Description = "Model name" };
        var command = new Command("info", "Describe one stored model") { name };
        command.SetAction(r =>
        {
            var catalog = GlobalOptions.Catalog(r);
            var m = catalog.Get(r.GetValue(name)!);
            var h = m.Hyper;
            var grid = new Grid().AddColumn().AddColumn();
            void Row(string k, string v) => grid.AddRow(new Text(k), new Text(v));
            Row("name", m.Name);
            Row("family", $"{m.Family} ({m.Source.Architecture}, from {m.Source.Format})");
            Row("source", m.Source.Path);
            Row("layers", N(h.Layers) + (h.LeadingDenseLayers > 0 ? $" (the first {h.LeadingDenseLayers} dense, FFN hidden {N(h.DenseHidden)})" : "") +
                          (h.SkippedMtpLayers > 0 ? $"; {h.SkippedMtpLayers} multi-token-prediction layer(s) in the source not converted (vib3 decodes one token per pass)" : ""));
            Row("hidden", N(h.Dim));
            Row("attention", h.KvLoraRank > 0
                ? $"latent (MLA), {h.Heads} heads, q/k {h.QkNopeHeadDim}+{h.QkRopeHeadDim} (rope), v {h.VHeadDim}, q rank {h.QLoraRank}, kv rank {h.KvLoraRank}; " +
                  $"cache {h.KvLoraRank + h.QkRopeHeadDim} values per token and layer; rope {h.RopeStyle} θ={h.RopeTheta}" +
                  (h.YarnFactor > 0 ? $", YaRN x{h.YarnFactor} from {N(h.YarnOriginalContext)}" : "")
                : $"{h.Heads} heads, {h.KvHeads} kv heads, head dim {h.HeadDim}, rope {h.RopeStyle} θ={h.RopeTheta}");
            Row("experts", $"{h.Experts} routed, top-{h.TopK}, expert hidden {h.ExpertHidden}" +
                           (h.SharedExpertHidden > 0 ? $", shared expert hidden {h.SharedExpertHidden}" : "") +
                           (h.ExpertGating is { } gating ? $"; {gating} scores" : "") +
                           (h.ExpertGroups > 1 ? $", {h.ExpertGroupsUsed} of {h.ExpertGroups} groups" : "") +
                           (h.ExpertWeightsScale > 0 ? $", weights x {h.ExpertWeightsScale.ToString(CultureInfo.InvariantCulture)}" : ""));
            Row("vocab / context", $"{N(h.Vocab)} / {N(h.Context)}");
            Row("output", h.TiedEmbeddings ? "tied to token_embd" : "own projection (output)");
            Row("dtype", $"{m.DType} (source {m.Source.DType})");
            Row("quantization", m.Quantization is { } asked ? $"{asked} (as vib3 convert was asked)" : "none asked (source types kept)");
            Row("parameters", $"{Count(m.Parameters)} total, {Count(m.ActiveParameters)} active per token");
            Row("pages", $"{N(m.PageCount)} pages, {ByteSize.Format(m.PageBytes)}; expert pages of {m.PageRows} neuron rows, largest page {ByteSize.Format(m.MaxPageBytes)}");
            Row("tokenizer", $"{m.Tokenizer.Kind}: {string.Join(", ", m.Tokenizer.Files)}");
            if (m.Tokenizer.PreTokenizerFallback is { } fallback)
                Row("pre-tokenizer", $"{fallback} fallback: {m.Tokenizer.UnsupportedPreTokenizer} is not supported, split as GPT-2 does (token ids may differ)");
            Row("store", catalog.ModelDir(m.Name));
            console.Write(grid);
            return 0;
        });
        return command;
    }

    public static Command CreateDrop(IAnsiConsole console)
    {
        var name = new Argument<string>("name") { Description = "Model name" };
        var command = new Command("drop", "Delete a stored model") { name };
        command.SetAction(r =>
        {
            GlobalOptions.Catalog(r).Drop(r.GetValue(name)!);
            console.WriteLine($"dropped {r.GetValue(name)}");
            return 0;
        });
        return command;
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Count(long n) => n switch
    {
        >= 1_000_000_000 => (n / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "B",
        >= 1_000_000 => (n / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (n / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "K",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}
