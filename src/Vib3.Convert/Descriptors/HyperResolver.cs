using System.Globalization;
using Vib3.Convert.Config;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Descriptors;

/// <summary>Reads a family's hyper-parameters from config.json or GGUF metadata, as its descriptor says, and
/// checks that they make a model.</summary>
public static class HyperResolver
{
    /// <summary>Resolution order matters: defaults may refer to earlier names (headDim = dim/heads).</summary>
    private static readonly string[] Order =
    [
        "layers", "dim", "heads", "kvHeads", "headDim", "vocab", "context", "experts", "topK",
        "expertHidden", "sharedExpertHidden", "ropeTheta", "normEps", "normTopKProb", "bosTokenId", "eosTokenId",
    ];

    private static readonly HashSet<string> Optional = ["sharedExpertHidden", "bosTokenId", "eosTokenId"];

    public static IReadOnlyDictionary<string, double> Resolve(
        FamilyDescriptor family, IConfigSource config, bool gguf, string? ggufArchitecture)
    {
        var values = new Dictionary<string, double>();
        foreach (var name in Order)
        {
            if (!family.Hyper.TryGetValue(name, out var source)) continue;
            var keys = gguf ? source.Gguf : source.Hf;
            double? value = null;
            foreach (var raw in keys)
            {
                var key = raw.Replace("{arch}", ggufArchitecture ?? "", StringComparison.Ordinal);
                value = key.StartsWith('#') ? config.ArrayLength(key[1..]) : config.GetNumber(key);
                if (value is not null) break;
            }
            if (value is null && source.Default is { } def && def != "none")
                value = def switch
                {
                    "true" => 1,
                    "false" => 0,
                    _ => ShapeExpression.Evaluate(def, n => values.TryGetValue(n, out var v) ? v : null),
                };
            if (value is null)
            {
                if (Optional.Contains(name) || source.Default == "none") continue;
                var tried = keys.Count == 0 ? "(no key)" : string.Join(" or ", keys.Select(k => $"'{k.Replace("{arch}", ggufArchitecture ?? "", StringComparison.Ordinal)}'"));
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"{config.Origin}: missing {tried} ({name})");
            }
            values[name] = value.Value;
        }
        return values;
    }

    public static HyperParameters Build(IReadOnlyDictionary<string, double> v, string ropeStyle, string origin)
    {
        int Int(string name, int min = 1)
        {
            var x = v.TryGetValue(name, out var d) ? d : 0;
            if (x != Math.Floor(x) || x < min || x > int.MaxValue)
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"{origin}: {name} = {x.ToString(CultureInfo.InvariantCulture)} is not a valid value (whole number ≥ {min})");
            return (int)x;
        }

        int? OptionalInt(string name) => v.TryGetValue(name, out var d) ? (int)d : null;

        var h = new HyperParameters
        {
            Layers = Int("layers"),
            Dim = Int("dim"),
            Heads = Int("heads"),
            KvHeads = Int("kvHeads"),
            HeadDim = Int("headDim"),
            Vocab = Int("vocab"),
            Context = Int("context"),
            Experts = Int("experts"),
            TopK = Int("topK"),
            ExpertHidden = Int("expertHidden"),
            SharedExpertHidden = v.ContainsKey("sharedExpertHidden") ? Int("sharedExpertHidden") : 0,
            RopeTheta = v["ropeTheta"],
            NormEps = v["normEps"],
            NormTopKProb = v["normTopKProb"] != 0,
            RopeStyle = ropeStyle,
            BosTokenId = OptionalInt("bosTokenId"),
            EosTokenId = OptionalInt("eosTokenId"),
        };
        if (h.TopK > h.Experts)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{origin}: top-k {h.TopK} exceeds the expert count {h.Experts}");
        if (h.Heads % h.KvHeads != 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{origin}: {h.Heads} attention heads are not a multiple of {h.KvHeads} key/value heads");
        return h;
    }
}
