using System.Text.Json.Serialization;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>Everything needed to use a stored model without touching its pages: written last by a
/// conversion, read first (and only) when a model is opened. Lives in &lt;store&gt;/manifest.json.</summary>
public sealed class ModelManifest
{
    /// <summary>2: the manifest carries <see cref="Checksum"/> and pages.tbl rows their page ids (1 had neither).</summary>
    public const int CurrentFormatVersion = 2;

    public int FormatVersion { get; set; } = CurrentFormatVersion;
    /// <summary>"xxh64:" and the XxHash64 of the manifest serialised without this field (see <see cref="ManifestFile"/>);
    /// set when the manifest is written.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Checksum { get; set; }
    public required string Name { get; set; }
    /// <summary>Descriptor family in catalog/families (mixtral, qwen2moe, qwen3moe, olmoe).</summary>
    public required string Family { get; set; }
    public required SourceInfo Source { get; set; }
    public required HyperParameters Hyper { get; set; }
    /// <summary>Element type of every 2-D weight page; 1-D weights (norms, biases) are always f32.</summary>
    public required string DType { get; set; }
    /// <summary>What the conversion was asked to store, as vib3 convert's options spell it: "q4_k_m" (--dtype, a type or
    /// one of llama.cpp's mixes), then ", experts TYPE" (--expert-dtype) and ", dense TYPE" (--dense-dtype) where given,
    /// e.g. "q8_0, experts q4_k_m". Absent when every tensor kept its source type. Shown by vib3 info; the types
    /// themselves are in <see cref="Tensors"/> and <see cref="ExpertGrids"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Quantization { get; set; }
    /// <summary>R: neuron rows per expert bundle page (the last bundle of an expert may hold fewer).</summary>
    public int PageRows { get; set; }
    /// <summary>Largest page in bytes; the page log's record limit.</summary>
    public int MaxPageBytes { get; set; }
    public required TokenizerInfo Tokenizer { get; set; }
    public List<TensorEntry> Tensors { get; set; } = [];
    public List<ExpertGridEntry> ExpertGrids { get; set; } = [];
    /// <summary>The experts' neuron layout when not as trained (vib3 convert --page-layout coact); absent: as trained.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public NeuronLayoutInfo? NeuronLayout { get; set; }
    public int PageCount { get; set; }
    public long PageBytes { get; set; }
    public long Parameters { get; set; }
    public long ActiveParameters { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class SourceInfo
{
    /// <summary>"safetensors" or "gguf".</summary>
    public required string Format { get; set; }
    public required string Path { get; set; }
    /// <summary>HF architectures[0] or GGUF general.architecture.</summary>
    public required string Architecture { get; set; }
    /// <summary>Element type of the source's matrices, before any --dtype conversion.</summary>
    public required string DType { get; set; }
    public long Bytes { get; set; }
}

/// <summary>Model shape as the forward pass needs it; names follow llama.cpp's metadata where one exists.</summary>
public sealed class HyperParameters
{
    public int Layers { get; set; }
    public int Dim { get; set; }
    public int Heads { get; set; }
    public int KvHeads { get; set; }
    public int HeadDim { get; set; }
    public int Vocab { get; set; }
    public int Context { get; set; }
    public int Experts { get; set; }
    public int TopK { get; set; }
    public int ExpertHidden { get; set; }
    public int SharedExpertHidden { get; set; }
    public double RopeTheta { get; set; }
    public double NormEps { get; set; }
    public bool NormTopKProb { get; set; }
    /// <summary>True when the model has no output projection of its own and reuses token_embd (tied embeddings).</summary>
    public bool TiedEmbeddings { get; set; }
    /// <summary>"neox" (rotate half, HF layout) or "interleaved" (pairs; llama.cpp's llama GGUF with permuted Q/K).</summary>
    public string RopeStyle { get; set; } = "neox";
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? BosTokenId { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? EosTokenId { get; set; }

    // ---- DeepSeek-V3 / Kimi K2 (deepseek2); zero or null in the other families, and then left out of manifest.json.

    /// <summary>The first N layers have a dense SwiGLU FFN of width <see cref="DenseHidden"/> and no experts.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int LeadingDenseLayers { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int DenseHidden { get; set; }
    /// <summary>Multi-head latent attention: q through a rank-QLoraRank bottleneck (0: one q projection), keys and
    /// values from a rank-KvLoraRank latent; per head QkNopeHeadDim + QkRopeHeadDim query/key and VHeadDim value.
    /// KvLoraRank 0: ordinary attention.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int QLoraRank { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int KvLoraRank { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int QkNopeHeadDim { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int QkRopeHeadDim { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int VHeadDim { get; set; }
    /// <summary>"softmax" (null) or "sigmoid": how router logits become expert scores.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ExpertGating { get; set; }
    /// <summary>Grouped routing: experts in ExpertGroups consecutive groups, only the best ExpertGroupsUsed eligible
    /// (0 or 1 groups: no grouping).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int ExpertGroups { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int ExpertGroupsUsed { get; set; }
    /// <summary>Routing weights are multiplied by this (routed_scaling_factor); 0 means 1.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double ExpertWeightsScale { get; set; }
    /// <summary>YaRN rope scaling: factor (0: none), the original context, mscale_all_dim (llama.cpp's
    /// rope_yarn_log_mul) and the ramp's betas.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double YarnFactor { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int YarnOriginalContext { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double YarnMscaleAllDim { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double YarnBetaFast { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double YarnBetaSlow { get; set; }
    /// <summary>Multi-token-prediction layers the checkpoint carried after the main ones; not converted (vib3
    /// decodes one token per pass).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int SkippedMtpLayers { get; set; }

    /// <summary>Layers [LeadingDenseLayers, Layers) route tokens to experts.</summary>
    public bool IsMoeLayer(int layer) => layer >= LeadingDenseLayers;

    [JsonIgnore]
    public int MoeLayers => Layers - LeadingDenseLayers;
}

public sealed class TokenizerInfo
{
    /// <summary>"hf" (tokenizer.json and friends copied verbatim) or "gguf" (tokenizer.ggml.* metadata, saved as gguf-tokenizer.json).</summary>
    public required string Kind { get; set; }
    /// <summary>File names under &lt;store&gt;/tokenizer/.</summary>
    public List<string> Files { get; set; } = [];
    /// <summary>"gpt2" when the checkpoint's pre-tokenizer is one vib3 cannot express and the conversion was told to
    /// split as GPT-2 does instead (vib3 convert --tokenizer-fallback gpt2): token ids may then differ from the
    /// checkpoint's own tokenizer. Null (absent) when vib3 splits as the checkpoint says.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PreTokenizerFallback { get; set; }
    /// <summary>What the fallback replaced, e.g. "pre-tokenizer Whitespace" or "tokenizer.ggml.pre 'tekken'".</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? UnsupportedPreTokenizer { get; set; }
}

/// <summary>A dense tensor cut by rows into pages: page i holds rows [i·RowsPerPage, min((i+1)·RowsPerPage, rows)).</summary>
public sealed class TensorEntry
{
    /// <summary>Canonical vib3 name, e.g. blk.3.attn_q (llama.cpp's naming without ".weight").</summary>
    public required string Name { get; set; }
    public required string Role { get; set; }
    public required string DType { get; set; }
    /// <summary>Row-major shape, outermost first: [rows, cols] for matrices, [n] for vectors.</summary>
    public required long[] Shape { get; set; }
    public required string SourceName { get; set; }
    public int FirstPage { get; set; }
    public int PageCount { get; set; }
    public int RowsPerPage { get; set; }
}

/// <summary>The routed experts of one layer as neuron bundles. Page of (expert e, bundle b) =
/// FirstPage + e·BundlesPerExpert + b. A bundle of r = min(BundleRows, ExpertHidden − b·BundleRows) rows holds,
/// each contiguous and in this order:
///   gate rows  W_gate[b·R .. b·R+r, :]   shape [r, Dim]
///   up rows    W_up  [b·R .. b·R+r, :]   shape [r, Dim]
///   down cols  W_down[:, b·R .. b·R+r]   shape [Dim, r]  (row-major slice, so blocks stay whole)
/// Gate and up are stored as <see cref="DType"/>; down as <see cref="DownDType"/> where a quantised GGUF gives it another
/// type (llama.cpp's Q4_K_M keeps some layers' down in Q6_K), else as <see cref="DType"/> too.</summary>
public sealed class ExpertGridEntry
{
    public int Layer { get; set; }
    public int Experts { get; set; }
    public int ExpertHidden { get; set; }
    public int Dim { get; set; }
    public int BundleRows { get; set; }
    public int BundlesPerExpert { get; set; }
    public int FirstPage { get; set; }
    public required string DType { get; set; }

    /// <summary>The down slices' type where it differs from gate's and up's (absent otherwise).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DownDType { get; set; }

    /// <summary>Per expert, how many of its first bundles are hot: their neurons are needed for nearly every token the
    /// expert runs on, so a retrieval inside the expert reads them always (a co-activation layout's; absent: none).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int[]? HotBundles { get; set; }

    /// <summary>Whether bundle <paramref name="bundle"/> of expert <paramref name="expert"/> is hot.</summary>
    public bool IsHot(int expert, int bundle) => HotBundles is { } hot && bundle < hot[expert];

    public DType GateUpType() => DTypes.Parse(DType);

    public DType DownType() => DTypes.Parse(DownDType ?? DType);

    /// <summary>Bytes of this grid's bundle of r rows.</summary>
    public long BundleBytes(int r) => BundleBytes(GateUpType(), DownType(), Dim, r);

    public int PageOf(int expert, int bundle) => FirstPage + expert * BundlesPerExpert + bundle;

    public int RowsInBundle(int bundle) => Math.Min(BundleRows, ExpertHidden - bundle * BundleRows);

    /// <summary>Bytes of one bundle of r rows: r gate rows + r up rows (each dim wide) + the dim×r down slice.</summary>
    public static long BundleBytes(DType t, int dim, int r) => BundleBytes(t, t, dim, r);

    /// <summary>Bytes of one bundle whose gate and up rows are <paramref name="gateUp"/> and down slice <paramref name="down"/>.</summary>
    public static long BundleBytes(DType gateUp, DType down, int dim, int r) =>
        2 * gateUp.ByteCount((long)r * dim) + dim * down.ByteCount(r);
}

/// <summary>How the routed experts' neurons are laid out in their bundle pages when not as trained
/// (<see cref="ModelManifest.NeuronLayout"/>): "coact", ordered by co-activation on calibration text so that neurons
/// needed for the same tokens share pages, the most often needed first as hot pages (<see cref="ExpertGridEntry.HotBundles"/>).
/// The order itself is not kept: an expert's output is the same sum whatever order its neurons are stored in.</summary>
public sealed class NeuronLayoutInfo
{
    /// <summary>"coact".</summary>
    public required string Kind { get; set; }
    /// <summary>The calibration text (its full path when converted).</summary>
    public required string CalibrationFile { get; set; }
    /// <summary>Tokens of the calibration text the experts ran on.</summary>
    public long CalibrationTokens { get; set; }
    /// <summary>A neuron counted as needed for a token when among the share of its expert's neurons with the largest
    /// contribution |silu(g·x)·(u·x)|·‖W_down[:, i]‖ for that token.</summary>
    public double NeededShare { get; set; }
    /// <summary>A neuron is hot when needed for at least this share of its expert's calibration tokens.</summary>
    public double HotShare { get; set; }
}
