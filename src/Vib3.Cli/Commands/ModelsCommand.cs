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
            var table = new Table().AddColumns("name", "architecture", "layers", "experts", "dtype", "bits/weight", "params", "active", "bytes", "pages");
            foreach (var (name, m, error) in models)
            {
                if (m is null)
                {
                    table.AddRow(Markup.Escape(name), $"[red]unreadable: {Markup.Escape(error ?? "")}[/]", "", "", "", "", "", "", "", "");
                    continue;
                }
                var tensors = StoredTensors.Of(m);
                var layers = N(m.Hyper.Layers) + (m.Hyper.SkippedMtpLayers > 0 ? $" (+{m.Hyper.SkippedMtpLayers} MTP skipped)" : "");
                table.AddRow(Markup.Escape(name), Markup.Escape($"{m.Family} ({m.Source.Architecture})"), Markup.Escape(layers),
                    $"{m.Hyper.Experts} top-{m.Hyper.TopK}", Markup.Escape(StoredTensors.TypeLabel(tensors)),
                    StoredTensors.FormatBits(StoredTensors.BitsPerWeight(tensors)), Count(m.Parameters), Count(m.ActiveParameters),
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
            var tensors = StoredTensors.Of(m);
            Row("dtype", $"{StoredTensors.TypeLabel(tensors)}, {StoredTensors.FormatBits(StoredTensors.BitsPerWeight(tensors))} bits per weight (source {m.Source.DType})");
            Row("quantization", m.Quantization is { } asked ? $"{asked} (as vib3 convert was asked)" : "none asked (source types kept)");
            if (ExpertTypesByLayer(m) is { } expertTypes) Row("expert types", expertTypes);
            Row("parameters", $"{Count(m.Parameters)} total, {Count(m.ActiveParameters)} active per token");
            Row("pages", $"{N(m.PageCount)} pages, {ByteSize.Format(m.PageBytes)}; expert pages of {m.PageRows} neuron rows, largest page {ByteSize.Format(m.MaxPageBytes)}");
            Row("tokenizer", $"{m.Tokenizer.Kind}: {string.Join(", ", m.Tokenizer.Files)}");
            if (m.Tokenizer.PreTokenizerFallback is { } fallback)
                Row("pre-tokenizer", $"{fallback} fallback: {m.Tokenizer.UnsupportedPreTokenizer} is not supported, split as GPT-2 does (token ids may differ)");
            Row("store", catalog.ModelDir(m.Name));
            console.Write(grid);
            console.Write(TypeTable(tensors));
            return 0;
        });
        return command;
    }

    /// <summary>Per element type: its tensors, parameters, stored bytes and bits per weight.</summary>
    private static Table TypeTable(IReadOnlyList<StoredTensor> tensors)
    {
        var table = new Table().AddColumns("type", "tensors", "parameters", "bytes", "bits/weight");
        foreach (var s in StoredTensors.ByType(tensors))
            table.AddRow(s.DType.Name(), N(s.Tensors), Count(s.Parameters), ByteSize.Format(s.Bytes), StoredTensors.FormatBits(s.BitsPerWeight));
        return table;
    }

    /// <summary>"layers 0, 2: gate/up q4_k, down q4_k; layer 1: gate/up q4_k, down q6_k" where the MoE layers' expert
    /// types differ (llama.cpp's mixes); null when every layer has the same.</summary>
    private static string? ExpertTypesByLayer(ModelManifest m)
    {
        var groups = m.ExpertGrids.GroupBy(g => (GateUp: g.GateUpType(), Down: g.DownType())).ToList();
        if (groups.Count < 2) return null;
        return string.Join("; ", groups.Select(g =>
            $"{(g.Count() == 1 ? "layer" : "layers")} {Runs(g.Select(x => x.Layer))}: gate/up {g.Key.GateUp.Name()}, down {g.Key.Down.Name()}"));
    }

    /// <summary>"0-2, 5, 7-9": ascending numbers with consecutive runs joined (a 60-layer mix stays one line).</summary>
    private static string Runs(IEnumerable<int> numbers)
    {
        var runs = new List<(int First, int Last)>();
        foreach (var n in numbers.Order())
            if (runs.Count > 0 && runs[^1].Last == n - 1) runs[^1] = (runs[^1].First, n);
            else runs.Add((n, n));
        return string.Join(", ", runs.Select(r => r.First == r.Last ? N(r.First) : $"{N(r.First)}-{N(r.Last)}"));
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
