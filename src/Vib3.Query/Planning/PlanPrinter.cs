using System.Globalization;
using System.Text;
using Vib3.Core;
using Vib3.Models.Device;
using Vib3.Models.Inference;
using Vib3.Storage.Catalog;

namespace Vib3.Query.Planning;

/// <summary>EXPLAIN's text: a header with the bound choices and per-token totals, then the operator tree with the
/// pages and bytes each operator reads per generated token.</summary>
public static class PlanPrinter
{
    /// <param name="chatTemplate">For a chat prompt, which template renders it (the model's own, or a built-in
    /// format and why); printed after the prompt line.</param>
    /// <param name="actuals">EXPLAIN ANALYZE: the statement's measured figures, printed under each node.</param>
    public static string Print(GenerationPlan p, string? chatTemplate = null, StatementActuals? actuals = null)
    {
        var m = p.Manifest;
        var e = p.Estimate;
        var sb = new StringBuilder();
        var weights = StoredTensors.Of(m);
        sb.Append(CultureInfo.InvariantCulture,
            $"GENERATE model={p.Model} ({m.Family}, {m.Hyper.Layers} layers, {StoredTensors.TypeLabel(weights)}, {StoredTensors.FormatBits(StoredTensors.BitsPerWeight(weights))} bits per weight)\n");
        sb.Append(CultureInfo.InvariantCulture, $"  prompt: {Prompt(p.Prompt)}\n");
        if (chatTemplate is not null) sb.Append(CultureInfo.InvariantCulture, $"  chat template: {chatTemplate}\n");
        sb.Append(CultureInfo.InvariantCulture, $"  routing: {Routing(p.Routing, m.Hyper.Experts)}\n");
        sb.Append(CultureInfo.InvariantCulture,
            $"  sampling: {Sampling(p.Sampling)}, max_tokens {p.MaxTokens}{(p.IgnoreEos ? " (end-of-generation tokens ignored)" : "")}, {p.Stop.Count} stop string(s), stream {(p.Stream ? "on" : "off")}\n");
        sb.Append(CultureInfo.InvariantCulture,
            $"  per token: {e.PagesPerToken} pages, {ByteSize.Format(e.BytesPerToken)} (dense {ByteSize.Format(e.DenseBytesPerToken)}, experts {ByteSize.Format(e.ExpertBytesPerToken)}), {Flops(e.FlopsPerToken)}\n");
        var fit = e.FitsInRam ? "fits; once read, pages are RAM hits" : "does not fit; pages beyond the page cache are read from disk";
        sb.Append(CultureInfo.InvariantCulture,
            $"  tiers: model {ByteSize.Format(e.ModelBytes)}, RAM budget {ByteSize.Format(e.RamBudgetBytes)} (holds {ByteSize.Format(e.CacheBytes)} of pages): {fit}\n");
        if (e.RamUse is { } use)
            sb.Append(CultureInfo.InvariantCulture,
                $"  RAM budget shared by every open model: {use.OpenModels} open, this one's pages {ByteSize.Format(use.ModelResidentBytes)}, the others' {ByteSize.Format(use.OthersResidentBytes)} (evicted as this one needs room, unless in use)\n");
        var (ram, disk) = PerTier(e);
        sb.Append(CultureInfo.InvariantCulture,
            $"  expected per token once warm: RAM {ByteSize.Format(ram)}, disk {ByteSize.Format(disk)} (uniform expert access)\n");
        if (p.Placement is not null) sb.Append(CultureInfo.InvariantCulture, $"  {p.Placement}\n");
        for (var i = 0; i < p.Operators.Count; i++) Operator(sb, p.Operators[i], "", i == p.Operators.Count - 1, actuals);
        return sb.ToString();
    }

    /// <summary>Bytes per token served from RAM and read from disk once the cache is warm, assuming every page is
    /// equally likely to be needed: the share of the model the page cache cannot hold comes from disk.</summary>
    private static (long Ram, long Disk) PerTier(PlanEstimate e)
    {
        if (e.FitsInRam || e.ModelBytes == 0) return (e.BytesPerToken, 0);
        var missShare = 1 - (double)e.CacheBytes / e.ModelBytes;
        var disk = (long)(e.BytesPerToken * missShare);
        return (e.BytesPerToken - disk, disk);
    }

    private static void Operator(StringBuilder sb, PlanOperator op, string indent, bool last, StatementActuals? actuals)
    {
        var label = indent + (last ? "└─ " : "├─ ") + op.Name;
        var detail = op.Detail.Length > 0 ? "  " + op.Detail : "";
        sb.Append(CultureInfo.InvariantCulture,
            $"{label,-20}{op.PagesPerToken,5} page(s) {ByteSize.Format(op.BytesPerToken),10}{detail}\n");
        var inner = indent + (last ? "   " : "│  ");
        if (actuals is not null)
            sb.Append(inner).Append(op.Children.Count > 0 ? "│  " : "   ").Append(Actual(Figures(op, actuals), op.ExactExpertBytes)).Append('\n');
        for (var i = 0; i < op.Children.Count; i++) Operator(sb, op.Children[i], inner, i == op.Children.Count - 1, actuals);
    }

    /// <summary>A node's figures: its operator's, or a layer's operators' summed (calls and rows are the layer's
    /// first operator's: every operator of a layer runs the same steps).</summary>
    private static OperatorFigures Figures(PlanOperator op, StatementActuals actuals)
    {
        if (op.Operator is { } id) return actuals[id];
        var children = op.Children.Select(c => Figures(c, actuals)).ToList();
        return children.Aggregate(default(OperatorFigures), (a, b) => a + b) with { Calls = children[0].Calls, Rows = children[0].Rows };
    }

    /// <summary>"(actual 12.3 ms, 17 calls, 17 rows; pages 68 hit / 0 joined / 0 disk, 20.4 MiB; 0 waits)" — the
    /// legend EXPLAIN ANALYZE prints explains each figure.</summary>
    /// <param name="exactBytes">Under router-first retrieval, what exact routing would read a row there: the saving is
    /// said against it.</param>
    public static string Actual(OperatorFigures f, long exactBytes = 0) => string.Create(CultureInfo.InvariantCulture,
        $"(actual {f.Time.TotalMilliseconds:0.000} ms, {f.Calls} calls, {f.Rows} rows; pages {f.PagesHit} hit / {f.PagesJoined} joined / {f.PagesFromDisk} disk, " +
        $"{ByteSize.Format(f.Bytes)}; {f.Waits} waits {f.WaitTime.TotalMilliseconds:0.0} ms{Products(f.Products)}{Vram(f.Vram)}{RowReads(f, exactBytes)})");

    /// <summary>"; a row read 40.0 KiB of pages + 13.5 KiB of neuron keys, 42 % less than exact routing's 92.0 KiB":
    /// router-first retrieval's bytes per row against what exact routing reads there; nothing for other routings.</summary>
    private static string RowReads(OperatorFigures f, long exactBytes)
    {
        if (f.RowKeyBytes == 0 || f.Rows == 0) return "";
        var (pages, keys) = ((double)f.RowPageBytes / f.Rows, (double)f.RowKeyBytes / f.Rows);
        var read = $"; a row read {ByteSize.Format((long)pages)} of pages + {ByteSize.Format((long)keys)} of neuron keys";
        if (exactBytes <= 0) return read;
        var saved = 1 - (pages + keys) / exactBytes;
        return read + string.Create(CultureInfo.InvariantCulture,
            $", {Math.Abs(saved):0%} {(saved >= 0 ? "less" : "more")} than exact routing's {ByteSize.Format(exactBytes)}");
    }

    /// <summary>"; products 3 device / 1 cpu": where the operator's matrix products ran, and for Attention "; attention 2
    /// device / 0 cpu": where its steps attended (over the KV caches in VRAM or in RAM); nothing without a device.</summary>
    private static string Products(ProductCounts p) =>
        (p.OnDevice + p.OnCpu == 0 ? "" : $"; products {p.OnDevice} device / {p.OnCpu} cpu") +
        (p.AttendedOnDevice + p.AttendedOnCpu == 0 ? "" : $"; attention {p.AttendedOnDevice} device / {p.AttendedOnCpu} cpu");

    /// <summary>"; vram 12 resident / 3 uploaded / 5 cpu": where the expert cache ran the pages (nothing without one).</summary>
    private static string Vram(DeviceExpertCounts v) => v == default ? "" : $"; vram {v.Hits} resident / {v.Uploads} uploaded / {v.CpuPages} cpu";

    /// <summary>How a plan routes, as EXPLAIN's routing line says it (a fallback to exact routing included).</summary>
    public static string Routing(RoutingPlan r, int experts) => r.RouterFirst
        ? $"RETRIEVAL router-first{(r.Default ? " (the default)" : "")}: the router's top-{r.TopK} of {experts}" + (r.Renormalise ? ", renormalised" : "") +
          ", inside them the bundle pages " + (r.Budget is { } b
              ? $"the {r.NeuronKeys!.Name} neuron keys rank best, budget={b.ToString(CultureInfo.InvariantCulture)} of them"
              : r.Allocated is { } allocated
              ? "holding each layer's calibrated mass (" + string.Join(" / ", allocated.OrderBy(x => x.Key).Select(x => x.Value.Mass.ToString("0.00", CultureInfo.InvariantCulture))) +
                $") of the contribution the {r.NeuronKeys!.Name} neuron keys predict: the fewest pages predicted to move the output no more than " +
                $"mass={r.Mass!.Value.ToString(CultureInfo.InvariantCulture)} in every layer (calibrated on {r.Calibration!.Tokens} tokens of {Path.GetFileName(r.Calibration.File)})"
              : $"holding mass={r.Mass!.Value.ToString(CultureInfo.InvariantCulture)} of the contribution the {r.NeuronKeys!.Name} neuron keys predict" +
                (r.Calibration is { } c ? $" (calibrated on {c.Tokens} tokens of {Path.GetFileName(c.File)})" : "")) +
          (r.Cap is { } cap ? $", at most k={cap}" : "")
        : r.Retrieval
        ? $"RETRIEVAL k={r.TopK} bundle pages per layer by page key ({r.Index})" +
          (r.Experts is { } e ? $" among the router's top-{e} experts' pages" : "") +
          (r.Prior is > 0 and var p ? string.Create(CultureInfo.InvariantCulture, $", ranked by key score + {p} · ln p(expert)") : "") +
          ", weighted by the router's softmax" +
          (r.Renormalise ? ", renormalised over the experts touched" : "") +
          (r.Ef is { } ef && r.GraphM is not { Count: > 0 } ? $"; ef={ef} ignored (the exact scan has no search breadth)" : "")
        : $"ROUTER top-{r.TopK} of {experts}" + (r.Renormalise ? ", renormalised" : "") +
          (r.Fallback is { } why ? $" (exact-routing fallback: {why})" : "");

    private static string Prompt(PlanPrompt p) => p switch
    {
        { Messages: { } messages } => $"chat, {messages.Count} message(s)",
        { Tokens: { } tokens } => $"{tokens.Count} token ids",
        _ => $"text, {p.Text!.Length} characters",
    };

    private static string Sampling(SamplingPlan s)
    {
        var penalty = s.RepeatPenalty == 1 ? "" : $", repeat_penalty {s.RepeatPenalty.ToString(CultureInfo.InvariantCulture)}";
        if (s.Temperature == 0) return "greedy" + penalty;
        var parts = new List<string> { $"temperature {s.Temperature.ToString(CultureInfo.InvariantCulture)}" };
        if (s.TopK > 0) parts.Add($"top_k {s.TopK}");
        if (s.TopP < 1) parts.Add($"top_p {s.TopP.ToString(CultureInfo.InvariantCulture)}");
        if (s.MinP > 0) parts.Add($"min_p {s.MinP.ToString(CultureInfo.InvariantCulture)}");
        parts.Add(s.Seed is { } seed ? $"seed {seed}" : "random seed");
        return string.Join(", ", parts) + penalty;
    }

    private static string Flops(long flops) => flops switch
    {
        >= 1_000_000_000 => (flops / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " GFLOP",
        >= 1_000_000 => (flops / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + " MFLOP",
        _ => (flops / 1e3).ToString("0.00", CultureInfo.InvariantCulture) + " kFLOP",
    };
}
