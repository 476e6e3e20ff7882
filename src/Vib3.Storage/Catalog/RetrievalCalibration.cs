using System.Text.Json;
using System.Text.Json.Serialization;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>What router-first retrieval keeps of the true contribution, measured per MoE layer on calibration text
/// (CREATE INDEX ... WITH (calibration = 'text')): for each predicted mass on <see cref="Masses"/>, the mean share of
/// the true contribution the pages it keeps hold, the mean share of the router's pages they are, and the mean relative
/// error of the experts' output they leave. With it, EXPLAIN says what <c>USING RETRIEVAL mass=M</c> is expected to
/// read and cost in each layer (docs/retrieval.md: on vib3-moe the kept shares track the predicted masses within
/// half a percent, and choosing each layer's mass for an equal error measured worse than one mass for all).</summary>
/// <param name="File">The calibration text's full path, as given.</param>
/// <param name="Tokens">Tokens of it the model ran (exact routing).</param>
/// <param name="Masses">The predicted masses measured, ascending, in (0, 1]; the last is 1.</param>
/// <param name="Layers">One per MoE layer of the index, in layer order.</param>
/// <param name="ProbeMass">The mass each layer was run at alone (the others reading every page) to measure how much its
/// truncation moves the model's predictions (<see cref="LayerCalibration.ProbeKl"/>).</param>
public sealed record RetrievalCalibration(string File, long Tokens, double[] Masses, IReadOnlyList<LayerCalibration> Layers, double ProbeMass)
{
    /// <summary>The predicted masses CREATE INDEX measures: 0.50 to 1.00 by 0.01.</summary>
    public static double[] Grid { get; } = Enumerable.Range(50, 51).Select(i => i / 100.0).ToArray();

    /// <summary>The KL from exact routing that one <paramref name="mass"/> in every layer is predicted to cost: the
    /// layers' own predictions added.</summary>
    public double PredictedKl(double mass) => Layers.Sum(l => l.PredictedKl(l.At(mass, Masses).Error));

    /// <summary>Each layer's mass for the fewest pages whose predicted KL adds up to at most <paramref name="kl"/>: every
    /// layer takes the measured mass that minimises its pages + λ · its predicted KL, with λ the smallest (by
    /// bisection) that meets the target. The pages it is expected to read come with each.</summary>
    public IReadOnlyDictionary<int, (double Mass, double Pages)> Allocate(double kl)
    {
        Dictionary<int, (double Mass, double Pages)> Choose(double lambda) => Layers.ToDictionary(l => l.Layer, l =>
        {
            var best = Masses.Length - 1;
            for (var i = 0; i < Masses.Length; i++)
                if (l.PagesKept[i] + lambda * l.PredictedKl(l.Error[i]) < l.PagesKept[best] + lambda * l.PredictedKl(l.Error[best])) best = i;
            return (Masses[best], l.PagesKept[best]);
        });
        double Kl(Dictionary<int, (double Mass, double Pages)> chosen) => Layers.Sum(l => l.PredictedKl(l.At(chosen[l.Layer].Mass, Masses).Error));
        var (low, high) = (1e-6, 1e9);
        for (var i = 0; i < 100 && high / low > 1.0001; i++)
        {
            var mid = Math.Sqrt(low * high);
            if (Kl(Choose(mid)) <= kl) high = mid;
            else low = mid;
        }
        return Choose(high);
    }
}

/// <summary>One layer's curves over <see cref="RetrievalCalibration.Masses"/>.</summary>
/// <param name="TrueKept">Mean share of a row's true contribution (router weight × ‖page's activations ⊙ down-column
/// norms‖, summed over its pages) held by the pages kept at each predicted mass; nondecreasing.</param>
/// <param name="PagesKept">Mean share of the row's router pages kept at each predicted mass.</param>
/// <param name="Error">Mean relative truncation error at each predicted mass: ‖the experts' output − the kept pages'
/// output‖ / ‖the experts' output‖ (router-weighted, the row's FFN output without the shared expert).</param>
/// <param name="ResidualError">The same difference relative to the residual stream it is added to: what the layer's
/// truncation changes of the token's state (an early layer's FFN output is large next to its residual).</param>
/// <param name="ProbeKl">Mean KL(exact ‖ this layer alone at the probe mass) over the calibration text: how much the
/// model's predictions move when this layer is truncated.</param>
/// <param name="ProbeError">The layer's truncation error at the probe mass.</param>
public sealed record LayerCalibration(int Layer, double[] TrueKept, double[] PagesKept, double[] Error, double[] ResidualError, double ProbeKl,
    double ProbeError)
{
    /// <summary>The KL this layer's truncation is predicted to cost at a truncation <paramref name="error"/>: the probe's,
    /// scaled by the square of the error (a small perturbation's KL grows as its square).</summary>
    public double PredictedKl(double error) => ProbeError > 0 ? ProbeKl * (error / ProbeError) * (error / ProbeError) : 0;

    /// <summary>The share of the pages and the truncation error measured at predicted mass <paramref name="mass"/>,
    /// interpolated linearly between the measured masses (below the first: the first's).</summary>
    public (double Pages, double Error) At(double mass, double[] masses)
    {
        if (mass <= masses[0]) return (PagesKept[0], Error[0]);
        for (var i = 1; i < masses.Length; i++)
        {
            if (mass > masses[i]) continue;
            var t = (mass - masses[i - 1]) / (masses[i] - masses[i - 1]);
            return (PagesKept[i - 1] + t * (PagesKept[i] - PagesKept[i - 1]), Error[i - 1] + t * (Error[i] - Error[i - 1]));
        }
        return (PagesKept[^1], Error[^1]);
    }
}

/// <summary>&lt;model&gt;/index/calibration.json: a <see cref="RetrievalCalibration"/> as JSON, written into the index
/// folder before it is published (so it is as atomic as the keys), checked field by field when read.</summary>
public static class RetrievalCalibrationFile
{
    public const string FileName = "calibration.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static void Write(string path, RetrievalCalibration calibration)
    {
        Validate(calibration, path);
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        JsonSerializer.Serialize(file, calibration, Json);
        file.Flush(flushToDisk: true);
    }

    /// <summary>The file's calibration; XX001 naming the file and the field for anything malformed.</summary>
    public static RetrievalCalibration Read(string path)
    {
        RetrievalCalibration? c;
        try
        {
            c = JsonSerializer.Deserialize<RetrievalCalibration>(System.IO.File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw Corrupt(path, e.Message);
        }
        if (c is null) throw Corrupt(path, "it holds null");
        Validate(c, path);
        return c;
    }

    private static void Validate(RetrievalCalibration c, string path)
    {
        if (c.File is null) throw Corrupt(path, "file is missing");
        if (c.Tokens < 1) throw Corrupt(path, $"tokens is {c.Tokens}, must be at least 1");
        if (c.Masses is not { Length: > 0 } masses) throw Corrupt(path, "masses is empty");
        for (var i = 0; i < masses.Length; i++)
            if (!(masses[i] > 0 && masses[i] <= 1) || (i > 0 && masses[i] <= masses[i - 1]))
                throw Corrupt(path, $"masses[{i}] is {masses[i]}: the masses must ascend within (0, 1]");
        if (masses[^1] != 1) throw Corrupt(path, $"the last mass is {masses[^1]}, must be 1");
        if (c.Layers is not { Count: > 0 }) throw Corrupt(path, "layers is empty");
        if (!(c.ProbeMass > 0 && c.ProbeMass < 1)) throw Corrupt(path, $"probeMass is {c.ProbeMass}, must be in (0, 1)");
        for (var l = 0; l < c.Layers.Count; l++)
        {
            var layer = c.Layers[l] ?? throw Corrupt(path, $"layers[{l}] is null");
            if (l > 0 && layer.Layer <= c.Layers[l - 1].Layer) throw Corrupt(path, $"layers[{l}].layer is {layer.Layer}: the layers must ascend");
            Shares(layer.TrueKept, $"layers[{l}].trueKept");
            Shares(layer.PagesKept, $"layers[{l}].pagesKept");
            Errors(layer.Error, $"layers[{l}].error");
            Errors(layer.ResidualError, $"layers[{l}].residualError");
            if (!(layer.ProbeKl >= 0 && double.IsFinite(layer.ProbeKl))) throw Corrupt(path, $"layers[{l}].probeKl is {layer.ProbeKl}, must be finite and at least 0");
            if (!(layer.ProbeError >= 0 && double.IsFinite(layer.ProbeError))) throw Corrupt(path, $"layers[{l}].probeError is {layer.ProbeError}, must be finite and at least 0");
        }

        void Errors(double[]? values, string field)
        {
            if (values is null || values.Length != masses.Length)
                throw Corrupt(path, $"{field} has {values?.Length ?? 0} values, masses {masses.Length}");
            for (var i = 0; i < values.Length; i++)
                if (!(values[i] >= 0 && double.IsFinite(values[i]))) throw Corrupt(path, $"{field}[{i}] is {values[i]}, must be finite and at least 0");
        }

        void Shares(double[]? values, string field)
        {
            if (values is null || values.Length != masses.Length)
                throw Corrupt(path, $"{field} has {values?.Length ?? 0} values, masses {masses.Length}");
            for (var i = 0; i < values.Length; i++)
                if (!(values[i] >= 0 && values[i] <= 1 + 1e-9)) throw Corrupt(path, $"{field}[{i}] is {values[i]}, must be a share in [0, 1]");
        }
    }

    private static Vib3Exception Corrupt(string path, string what) =>
        new(SqlState.DataCorrupted, $"{path}: the retrieval calibration is corrupt: {what}");
}
