using System.Globalization;
using Vib3.Core;

namespace Vib3.Synth;

internal static class Program
{
    private const string Usage = """
        vib3-synth: writes a deterministic random-weight MoE checkpoint.

        usage: vib3-synth --family mixtral|qwen2moe|qwen3moe|olmoe|deepseek2 --format hf|gguf --out PATH [options]
          --layers N          decoder layers (2)
          --dim N             hidden size (64)
          --expert-hidden N   routed expert intermediate size (64)
          --shared-expert-hidden N   qwen2moe shared expert size (2 x expert-hidden)
          --heads N           attention heads (4)
          --kv-heads N        key/value heads (2)
          --head-dim N        per-head size (dim / heads)
          --experts N         experts per layer (4)
          --top-k N           experts used per token (2)
          --vocab N           vocabulary size, at least 259 (384)
          --context N         context length (256)
          --seed N            weight seed (1)
          --dtype T           f32|f16|bf16 (hf) or f32|f16|bf16|q8_0 (gguf) (f32)
          --shards N          safetensors files for hf (1)
          --fp8-block N       hf: decoder-layer linear weights as float8 e4m3 in NxN blocks with
                              weight_scale_inv, as DeepSeek-V3 / Kimi K2 publish them (128); 0 = off (0)
          --rope-theta X      rope base (1000000)
          --norm-eps X        rms norm epsilon (1e-5)
          --embedding-scale X factor on the token embedding's values (1)

        deepseek2 only (DeepSeek-V3 / Kimi K2; aliases deepseekv3, kimi):
          --q-lora-rank N           compressed query rank, 0 = plain q_proj (24)
          --kv-lora-rank N          compressed key/value rank (32)
          --qk-nope-head-dim N      per-head key width without rope (16)
          --qk-rope-head-dim N      per-head key width with rope (8)
          --v-head-dim N            per-head value width (16)
          --leading-dense-layers N  first layers with a dense FFN (1)
          --dense-hidden N          dense FFN width (2 x expert-hidden)
          --shared-experts N        shared experts, 0 = none (1)
          --expert-groups N         expert groups (1)
          --groups-used N           groups a token may use (1)
          --routed-scale X          routed experts' weight factor (2.5)
          --norm-topk-prob B        renormalise the chosen experts' weights, true|false (true)
          --sigmoid-gating B        sigmoid router scores, false = softmax (true)
          --score-bias B            selection-only router bias, true|false (true)
          --mla-split B             gguf attn_k_b/attn_v_b, false = older attn_kv_b (true)
          --yarn-factor X           YaRN rope scaling factor, 0 = off (0)
          --yarn-original-context N YaRN original context (context / factor)
          --mscale-all-dim X        YaRN mscale_all_dim (0)
          --mtp-layers N            hf only: multi-token-prediction layers (0)
        """;

    private static int Main(string[] args)
    {
        try
        {
            return Run(args);
        }
        catch (Vib3Exception e)
        {
            Console.Error.WriteLine($"error: {e.Message} (SQLSTATE {e.SqlState})");
            return 1;
        }
    }

    private static int Run(string[] args)
    {
        if (args.Length == 0 || args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var spec = new SyntheticModelSpec();
        string? format = null, output = null;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal))
                throw Bad($"unexpected argument '{name}' (see --help)");
            if (i + 1 >= args.Length) throw Bad($"option {name} needs a value");
            var v = args[++i];
            switch (name)
            {
                case "--family": spec = spec with { Family = SyntheticModelGenerator.ParseFamily(v) }; break;
                case "--format": format = v.ToLowerInvariant(); break;
                case "--out": output = v; break;
                case "--layers": spec = spec with { Layers = Int(name, v) }; break;
                case "--dim": spec = spec with { Dim = Int(name, v) }; break;
                case "--expert-hidden": spec = spec with { ExpertHidden = Int(name, v) }; break;
                case "--shared-expert-hidden": spec = spec with { SharedExpertHidden = Int(name, v) }; break;
                case "--heads": spec = spec with { Heads = Int(name, v) }; break;
                case "--kv-heads": spec = spec with { KvHeads = Int(name, v) }; break;
                case "--head-dim": spec = spec with { HeadDim = Int(name, v) }; break;
                case "--experts": spec = spec with { Experts = Int(name, v) }; break;
                case "--top-k": spec = spec with { TopK = Int(name, v) }; break;
                case "--vocab": spec = spec with { Vocab = Int(name, v) }; break;
                case "--context": spec = spec with { Context = Int(name, v) }; break;
                case "--seed": spec = spec with { Seed = long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : throw Bad($"{name}: '{v}' is not an integer") }; break;
                case "--dtype": spec = spec with { DType = DTypes.Parse(v) }; break;
                case "--shards": spec = spec with { Shards = Int(name, v) }; break;
                case "--fp8-block": spec = spec with { Fp8BlockSize = Int(name, v) }; break;
                case "--rope-theta": spec = spec with { RopeTheta = Dbl(name, v) }; break;
                case "--norm-eps": spec = spec with { NormEps = Dbl(name, v) }; break;
                case "--q-lora-rank": spec = spec with { QLoraRank = Int(name, v) }; break;
                case "--kv-lora-rank": spec = spec with { KvLoraRank = Int(name, v) }; break;
                case "--qk-nope-head-dim": spec = spec with { QkNopeHeadDim = Int(name, v) }; break;
                case "--qk-rope-head-dim": spec = spec with { QkRopeHeadDim = Int(name, v) }; break;
                case "--v-head-dim": spec = spec with { VHeadDim = Int(name, v) }; break;
                case "--leading-dense-layers": spec = spec with { LeadingDenseLayers = Int(name, v) }; break;
                case "--dense-hidden": spec = spec with { DenseHidden = Int(name, v) }; break;
                case "--shared-experts": spec = spec with { SharedExperts = Int(name, v) }; break;
                case "--expert-groups": spec = spec with { ExpertGroups = Int(name, v) }; break;
                case "--groups-used": spec = spec with { GroupsUsed = Int(name, v) }; break;
                case "--routed-scale": spec = spec with { RoutedScale = Dbl(name, v) }; break;
                case "--norm-topk-prob": spec = spec with { NormTopKProb = Bool(name, v) }; break;
                case "--sigmoid-gating": spec = spec with { SigmoidGating = Bool(name, v) }; break;
                case "--score-bias": spec = spec with { ScoreBias = Bool(name, v) }; break;
                case "--mla-split": spec = spec with { MlaSplit = Bool(name, v) }; break;
                case "--yarn-factor": spec = spec with { YarnFactor = Dbl(name, v) }; break;
                case "--yarn-original-context": spec = spec with { YarnOriginalContext = Int(name, v) }; break;
                case "--mscale-all-dim": spec = spec with { MscaleAllDim = Dbl(name, v) }; break;
                case "--mtp-layers": spec = spec with { MtpLayers = Int(name, v) }; break;
                case "--embedding-scale": spec = spec with { EmbeddingScale = (float)Dbl(name, v) }; break;
                default: throw Bad($"unknown option {name} (see --help)");
            }
        }
        if (output is null) throw Bad("--out is required");
        spec.Validate();
        switch (format)
        {
            case "hf":
            case "safetensors":
                var files = SyntheticModelGenerator.WriteHf(spec, output);
                Console.WriteLine($"wrote {spec.Family} HF checkpoint ({files.Count} files, {SyntheticModelGenerator.HfTensors(spec).Count} tensors) to {output}");
                break;
            case "gguf":
                SyntheticModelGenerator.WriteGguf(spec, output);
                Console.WriteLine($"wrote {spec.Family} GGUF ({SyntheticModelGenerator.GgufTensors(spec).Count} tensors, {ByteSize.Format(new FileInfo(output).Length)}) to {output}");
                break;
            case null: throw Bad("--format is required (hf or gguf)");
            default: throw Bad($"unknown format '{format}' (hf or gguf)");
        }
        return 0;
    }

    private static Vib3Exception Bad(string message) => new(SqlState.InvalidParameterValue, message);

    private static int Int(string name, string v) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw Bad($"{name}: '{v}' is not an integer");

    private static bool Bool(string name, string v) => v.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => throw Bad($"{name}: '{v}' is not true or false"),
    };

    private static double Dbl(string name, string v) =>
        double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : throw Bad($"{name}: '{v}' is not a number");
}
