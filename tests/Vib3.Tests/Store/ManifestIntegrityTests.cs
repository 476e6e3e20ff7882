using System.Text.Json.Nodes;
using Vib3.Core;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Tests.Store;

/// <summary>manifest.json checks itself: a changed value without a matching checksum is refused as changed, and a
/// changed value WITH a valid checksum (written by vib3's own writer) is refused by validation naming the field, one
/// XX001 line either way, for every count, shape, enum and array of real converted models.</summary>
public sealed class ManifestIntegrityTests(ConvertedStores stores) : IClassFixture<ConvertedStores>
{
    private const int Huge = int.MaxValue;

    /// <summary>(model, field path, new value or null to remove / a shorter array, what the message must name).</summary>
    public static TheoryData<string, string, string, string> Edits()
    {
        var data = new TheoryData<string, string, string, string>();
        void Add(string model, string path, string value, string names) => data.Add(model, path, value, names);

        // The four edits the adversarial run generated with.
        Add("mix", "hyper.layers", "0", "hyper.layers is 0, must be at least 1");
        Add("mix", "hyper.topK", "0", "hyper.topK is 0, must be between 1 and hyper.experts = 4");
        Add("mix", "hyper.ropeStyle", "\"bogus\"", "hyper.ropeStyle is 'bogus', must be one of 'neox', 'interleaved'");
        Add("mix", "hyper.heads", "12", "tensors[5] (blk.0.attn_q).shape is [64, 64], the hyper-parameters give [192, 64] ([heads·headDim, dim])");

        // Every whole-number field of the hyper-parameters at 0, -1 and huge.
        foreach (var field in new[] { "layers", "dim", "heads", "kvHeads", "headDim", "vocab", "context", "experts", "topK", "expertHidden" })
            foreach (var value in new[] { 0, -1 })
                Add("mix", $"hyper.{field}", $"{value}", $"hyper.{field} is {value}");
        Add("mix", "hyper.layers", $"{Huge}", "hyper.layers is 2147483647, more than the");
        Add("mix", "hyper.dim", $"{Huge}", "[vocab, dim]");
        Add("mix", "hyper.heads", $"{Huge}", "hyper.heads 2147483647 is not a multiple of hyper.kvHeads 2");
        Add("mix", "hyper.kvHeads", $"{Huge}", "hyper.heads 4 is not a multiple of hyper.kvHeads 2147483647");
        Add("mix", "hyper.headDim", "15", "hyper.headDim is 15, must be even");
        Add("mix", "hyper.headDim", "32", "[heads·headDim, dim]");
        Add("mix", "hyper.vocab", $"{Huge}", "[vocab, dim]");
        Add("mix", "hyper.context", $"{Huge}", "hyper.context is 2147483647, must be between 1 and 16777216");
        Add("mix", "hyper.experts", $"{Huge}", "[experts, dim]");
        Add("mix", "hyper.topK", $"{Huge}", "hyper.topK is 2147483647, must be between 1 and hyper.experts = 4");
        Add("mix", "hyper.topK", "5", "hyper.topK is 5");
        Add("mix", "hyper.expertHidden", $"{Huge}", "expertGrids[0].expertHidden is 80, must be hyper.expertHidden = 2147483647");
        Add("mix", "hyper.sharedExpertHidden", "-1", "hyper.sharedExpertHidden is -1");
        Add("mix", "hyper.ropeTheta", "0", "hyper.ropeTheta is 0, must be a positive number");
        Add("mix", "hyper.ropeTheta", "-1", "hyper.ropeTheta is -1");
        Add("mix", "hyper.normEps", "0", "hyper.normEps is 0");
        Add("mix", "hyper.normEps", "1E+300", "hyper.normEps is 1E+300, must be below 1");
        Add("mix", "hyper.bosTokenId", "-1", "hyper.bosTokenId is -1");
        Add("mix", "hyper.eosTokenId", "300", "hyper.eosTokenId is 300, must be between 0 and hyper.vocab - 1 = 299");
        Add("mix", "hyper.tiedEmbeddings", "true", "hyper.tiedEmbeddings is true but the model has its own output tensor");
        Add("mix", "hyper.leadingDenseLayers", "1", "hyper.denseHidden is 0, must be at least 1");
        Add("mix", "hyper.leadingDenseLayers", "2", "hyper.leadingDenseLayers is 2, must be between 0 and hyper.layers - 1 = 1");
        Add("mix", "hyper.qLoraRank", "8", "hyper.qLoraRank is 8, must be 0 without latent attention");
        Add("mix", "hyper.expertGating", "\"softmax2\"", "hyper.expertGating is 'softmax2'");
        Add("mix", "hyper.expertWeightsScale", "-1", "hyper.expertWeightsScale is -1");
        Add("mix", "hyper.yarnFactor", "-1", "hyper.yarnFactor is -1");
        Add("mix", "hyper.skippedMtpLayers", "-1", "hyper.skippedMtpLayers is -1");

        // Latent attention, leading dense layers, grouped routing, YaRN.
        Add("ds", "hyper.kvLoraRank", "0", "must be 0 without latent attention");
        Add("ds", "hyper.kvLoraRank", "-1", "hyper.kvLoraRank is -1");
        Add("ds", "hyper.kvLoraRank", $"{Huge}", "[kvLoraRank+qkRopeHeadDim, dim]");
        Add("ds", "hyper.qkRopeHeadDim", "1", "hyper.qkRopeHeadDim is 1, must be at least 2");
        Add("ds", "hyper.qkRopeHeadDim", "9", "hyper.qkRopeHeadDim is 9, must be even");
        Add("ds", "hyper.qkNopeHeadDim", "8", "hyper.headDim is 24, must be hyper.qkNopeHeadDim + hyper.qkRopeHeadDim = 16");
        Add("ds", "hyper.vHeadDim", "0", "hyper.vHeadDim is 0");
        Add("ds", "hyper.vHeadDim", "8", "(blk.0.attn_v_b).shape is [64, 32], the hyper-parameters give [32, 32] ([heads·vHeadDim, kvLoraRank])");
        Add("ds", "hyper.kvHeads", "2", "hyper.kvHeads is 2, must be hyper.heads (4) with latent attention");
        Add("ds", "hyper.leadingDenseLayers", "0", "belongs to a dense layer, but layer 0 routes to experts");
        Add("ds", "hyper.leadingDenseLayers", "-1", "hyper.leadingDenseLayers is -1");
        Add("ds", "hyper.denseHidden", "0", "hyper.denseHidden is 0, must be at least 1");
        Add("ds", "hyper.expertGating", "\"bogus\"", "hyper.expertGating is 'bogus', must be one of null, 'softmax', 'sigmoid'");
        Add("ds", "hyper.expertGroups", "3", "hyper.expertGroups is 3, which does not divide hyper.experts 8");
        Add("ds", "hyper.expertGroupsUsed", "0", "hyper.expertGroupsUsed is 0");
        Add("ds", "hyper.expertGroupsUsed", "5", "hyper.expertGroupsUsed is 5, must be between 1 and hyper.expertGroups = 4");
        Add("ds", "hyper.yarnOriginalContext", "0", "hyper.yarnOriginalContext is 0");
        Add("ds", "hyper.yarnBetaFast", "0", "hyper.yarnBetaFast is 0");
        Add("ds", "expertGrids[0].layer", "0", "expertGrids[0].layer is 0, must be between 1");

        // Shared experts and biases.
        Add("qw", "hyper.sharedExpertHidden", "0", "[sharedExpertHidden, dim]");
        Add("qw", "hyper.sharedExpertHidden", $"{Huge}", "[sharedExpertHidden, dim]");

        // The rest of the manifest: names, enums, counts, page geometry.
        Add("mix", "name", "\"other\"", "name is 'other' but the model is mix");
        Add("mix", "family", "\"Bogus Family!\"", "family 'Bogus Family!' is not a family name");
        Add("mix", "dType", "\"f8\"", "dtype is 'f8', not a dtype vib3 stores");
        Add("mix", "source.format", "\"zip\"", "source.format is 'zip', must be one of 'safetensors', 'gguf'");
        Add("mix", "source.architecture", "\"\"", "source.architecture is empty");
        Add("mix", "source.bytes", "-1", "source.bytes is -1");
        Add("mix", "tokenizer.kind", "\"sentencepiece\"", "tokenizer.kind is 'sentencepiece', must be one of 'hf', 'gguf'");
        Add("mix", "tokenizer.files", "[]", "tokenizer.files is empty");
        Add("mix", "tokenizer.files", "[\"../../../etc/passwd\"]", "tokenizer.files[0] is '../../../etc/passwd', not a file name");
        // the recorded pre-tokenizer fallback: only gpt2, and only with what it replaced (bounded, it is shown)
        Add("mix", "tokenizer.preTokenizerFallback", "\"bert\"", "tokenizer.preTokenizerFallback is 'bert', must be one of 'gpt2'");
        Add("mix", "tokenizer.unsupportedPreTokenizer", "\"pre-tokenizer Whitespace\"", "tokenizer.preTokenizerFallback is");
        Add("mix", "tokenizer.preTokenizerFallback", "\"gpt2\"", "tokenizer.unsupportedPreTokenizer is empty");
        // the recorded quantization request: shown by vib3 info, so only the shape vib3 convert writes, and quoted safely
        Add("mix", "quantization", "\"\"", "quantization is '', not a request like 'q4_k_m'");
        Add("mix", "quantization", "\"q8_0, dense bf16, experts q4_k_m\"", "quantization is 'q8_0, dense bf16, experts q4_k_m', not a request");
        Add("mix", "quantization", "\"q4_k_m\\n\\u001b[2J\"", "quantization is 'q4_k_m");
        foreach (var field in new[] { "pageRows", "maxPageBytes", "pageCount", "pageBytes" })
            Add("mix", field, "0", $"{field} is 0");
        foreach (var field in new[] { "pageRows", "maxPageBytes", "pageCount" })
            Add("mix", field, "-1", $"{field} is -1");
        Add("mix", "pageRows", $"{Huge}", "pageRows is 2147483647, must be between 1 and hyper.expertHidden = 80");
        Add("mix", "pageRows", "16", "expertGrids[0].bundleRows is 32, must be pageRows = 16");
        Add("mix", "maxPageBytes", $"{Huge}", "maxPageBytes is 2147483647, must be between 1 and 1073741824");
        Add("mix", "pageCount", $"{Huge}", "pageCount is 2147483647, but the tensors and experts hold 43 pages");
        Add("mix", "parameters", "1", "parameters is 1, the tensors and experts hold");
        Add("mix", "activeParameters", "-1", "activeParameters is -1");

        // Tensors and expert grids.
        Add("mix", "tensors[0].name", "\"tok_embeddings\"", "tensors[0] (tok_embeddings) is not a tensor vib3 reads");
        Add("mix", "tensors[1].name", "\"token_embd\"", "tensors[1] (token_embd) appears twice");
        Add("mix", "tensors[0].role", "\"lm_head\"", "tensors[0] (token_embd).role is 'lm_head', must be 'embedding'");
        Add("mix", "tensors[0].dType", "\"f64\"", "tensors[0] (token_embd).dType is 'f64'");
        Add("mix", "tensors[0].shape[0]", "0", "tensors[0] (token_embd).shape is [0, 64], must be [n] or [rows, cols] of positive sizes");
        Add("mix", "tensors[0].shape[0]", $"{Huge}", "tensors[0] (token_embd).shape is [2147483647, 64], the hyper-parameters give [300, 64] ([vocab, dim])");
        Add("mix", "tensors[0].shape", "[300, 64, 1]", "must be [n] or [rows, cols]");
        Add("mix", "tensors[0].firstPage", "-1", "tensors[0] (token_embd).firstPage is -1");
        Add("mix", "tensors[0].firstPage", $"{Huge}", "tensors[0] (token_embd).firstPage is 2147483647");
        Add("mix", "tensors[0].pageCount", "0", "tensors[0] (token_embd).pageCount is 0");
        Add("mix", "tensors[0].pageCount", $"{Huge}", "tensors[0] (token_embd).pageCount is 2147483647");
        Add("mix", "tensors[0].rowsPerPage", "0", "tensors[0] (token_embd).rowsPerPage is 0, must be at least 1");
        Add("mix", "tensors[0].rowsPerPage", "-1", "tensors[0] (token_embd).rowsPerPage is -1");
        Add("mix", "tensors[0].rowsPerPage", $"{Huge}", "tensors[0] (token_embd).pageCount is 2, its 300 rows at 2147483647 a page need 1");
        Add("mix", "expertGrids[0].experts", "0", "expertGrids[0].experts is 0, must be hyper.experts = 4");
        Add("mix", "expertGrids[0].experts", $"{Huge}", "expertGrids[0].experts is 2147483647");
        Add("mix", "expertGrids[0].dim", "-1", "expertGrids[0].dim is -1, must be hyper.dim = 64");
        Add("mix", "expertGrids[0].expertHidden", "0", "expertGrids[0].expertHidden is 0");
        Add("mix", "expertGrids[0].bundleRows", $"{Huge}", "expertGrids[0].bundleRows is 2147483647");
        Add("mix", "expertGrids[0].bundlesPerExpert", "1", "expertGrids[0].bundlesPerExpert is 1, must be its expertHidden / bundleRows, rounded up = 3");
        Add("mix", "expertGrids[0].firstPage", "0", "starts at page 0, inside");
        Add("mix", "expertGrids[0].firstPage", "-1", "expertGrids[0].firstPage is -1");
        Add("mix", "expertGrids[0].dType", "\"bf16\"", "expertGrids[0].dType is 'bf16', must be the model's dtype 'f32'");
        Add("mix", "expertGrids[0].downDType", "\"bf16\"", "expertGrids[0].downDType is 'bf16', but only block types mix (dType is 'f32')");
        Add("mix", "expertGrids[0].downDType", "\"q9_9\"", "expertGrids[0].downDType");
        Add("mix", "expertGrids[1].layer", "0", "expertGrids[1].layer 0 has a second expert grid");

        // Arrays cut short.
        Add("mix", "tensors", "[]", "the model has no tensor token_embd");
        Add("mix", "tensors", "truncate", "layer 1 has no tensor");
        Add("mix", "expertGrids", "[]", "expertGrids has 0 layers of experts, but hyper.layers - hyper.leadingDenseLayers is 2");
        Add("mix", "expertGrids", "truncate", "expertGrids has 1 layers of experts");
        Add("mix", "tensors[0].shape", "[300]", "tensors[0] (token_embd).shape is [300], the hyper-parameters give [300, 64]");
        return data;
    }

    [Theory]
    [MemberData(nameof(Edits))]
    public void An_edit_without_its_checksum_is_refused_as_changed(string model, string path, string value, string names)
    {
        _ = names;
        try
        {
            var m = stores.Pristine(model);
            Edit(m, path, value);
            stores.WriteRaw(model, m);
            var ex = Assert.Throws<Vib3Exception>(() => stores.Catalog.Get(model));
            Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
            Assert.StartsWith($"model {model}'s manifest is corrupt: checksum mismatch", ex.Message);
        }
        finally
        {
            stores.Restore(model);
        }
    }

    [Theory]
    [MemberData(nameof(Edits))]
    public void An_edit_with_a_valid_checksum_is_refused_by_validation_naming_the_field(string model, string path, string value, string names)
    {
        try
        {
            var m = stores.Pristine(model);
            Edit(m, path, value);
            stores.WriteWithChecksum(model, m);
            var ex = Assert.Throws<Vib3Exception>(() => stores.Catalog.Get(model));
            Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
            Assert.StartsWith($"model {model}'s manifest is corrupt: ", ex.Message);
            Assert.True(ex.Message.Contains(names, StringComparison.Ordinal), $"expected '{names}' in: {ex.Message}");
            Assert.DoesNotContain("checksum", ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
        }
        finally
        {
            stores.Restore(model);
        }
    }

    [Fact]
    public void The_pristine_manifests_read_and_carry_a_checksum()
    {
        foreach (var model in new[] { "mix", "qw", "ds" })
        {
            Assert.Equal(model, stores.Catalog.Get(model).Name);
            Assert.Matches("^xxh64:[0-9a-f]{16}$", (string?)stores.Pristine(model)["checksum"]);
        }
    }

    [Fact]
    public void Reindenting_the_manifest_keeps_it_valid()
    {
        try
        {
            stores.WriteRaw("mix", stores.Pristine("mix")); // compact, no indentation
            Assert.Equal("mix", stores.Catalog.Get("mix").Name);
        }
        finally
        {
            stores.Restore("mix");
        }
    }

    [Theory]
    [InlineData("hyper.layers", "1e20", "$.hyper.layers")]
    [InlineData("hyper.layers", "\"two\"", "$.hyper.layers")]
    [InlineData("name", "null", "name")]
    [InlineData("hyper", "null", "hyper")]
    [InlineData("checksum", "remove", "it has no checksum")]
    [InlineData("formatVersion", "\"2\"", "formatVersion is missing or not a whole number")]
    public void What_does_not_parse_as_a_manifest_is_refused_naming_the_field(string path, string value, string names)
    {
        try
        {
            var m = stores.Pristine("mix");
            Edit(m, path, value);
            stores.WriteRaw("mix", m);
            var ex = Assert.Throws<Vib3Exception>(() => stores.Catalog.Get("mix"));
            Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
            Assert.StartsWith("model mix's manifest is corrupt: ", ex.Message);
            Assert.Contains(names, ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
        }
        finally
        {
            stores.Restore("mix");
        }
    }

    [Fact]
    public void A_null_tensor_with_a_valid_checksum_is_refused()
    {
        try
        {
            var m = stores.Pristine("mix");
            m["tensors"]!.AsArray()[0] = null;
            stores.WriteWithChecksum("mix", m);
            var ex = Assert.Throws<Vib3Exception>(() => stores.Catalog.Get("mix"));
            Assert.Equal("model mix's manifest is corrupt: tensors[0] is null", ex.Message);
        }
        finally
        {
            stores.Restore("mix");
        }
    }

    [Fact]
    public void Not_json_and_oversized_manifests_are_refused()
    {
        try
        {
            File.WriteAllText(stores.ManifestPath("mix"), "{ not json");
            var ex = Assert.Throws<Vib3Exception>(() => stores.Catalog.Get("mix"));
            Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
            Assert.StartsWith("model mix's manifest is corrupt: ", ex.Message);

            using (var fs = File.Create(stores.ManifestPath("mix"))) fs.SetLength(ManifestFile.MaxBytes + 1L);
            ex = Assert.Throws<Vib3Exception>(() => stores.Catalog.Get("mix"));
            Assert.Equal($"model mix's manifest is corrupt: it is larger than {ManifestFile.MaxBytes} bytes", ex.Message);
        }
        finally
        {
            stores.Restore("mix");
        }
    }

    /// <summary>A manifest that agrees with itself but not with the pages it describes is refused at open.</summary>
    [Fact]
    public void A_dtype_the_pages_do_not_hold_is_refused_when_the_model_is_opened()
    {
        try
        {
            var m = stores.Pristine("mix");
            var attnQ = m["tensors"]!.AsArray().First(t => (string?)t!["name"] == "blk.0.attn_q")!;
            attnQ["dType"] = "f16";
            stores.WriteWithChecksum("mix", m);
            Assert.Equal("f16", stores.Catalog.Get("mix").Tensors.First(t => t.Name == "blk.0.attn_q").DType);
            var ex = Assert.Throws<Vib3Exception>(() => StoredModel.Open(stores.Catalog, "mix", new PageStoreOptions { RamBudgetBytes = 16 << 20 }));
            Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
            Assert.Matches(@"^model mix's manifest is corrupt: page \d+ is 16384 bytes, but the rows of tensor blk\.0\.attn_q it holds take 8192 bytes", ex.Message);
        }
        finally
        {
            stores.Restore("mix");
        }
    }

    [Fact]
    public void A_page_byte_count_the_page_table_does_not_hold_is_refused_when_the_model_is_opened()
    {
        try
        {
            var m = stores.Pristine("mix");
            m["pageBytes"] = (long)m["pageBytes"]! + 1;
            stores.WriteWithChecksum("mix", m);
            var ex = Assert.Throws<Vib3Exception>(() => StoredModel.Open(stores.Catalog, "mix", new PageStoreOptions { RamBudgetBytes = 16 << 20 }));
            Assert.Equal(SqlState.DataCorrupted, ex.SqlState);
            Assert.StartsWith("model mix's manifest is corrupt: pageBytes is", ex.Message);
        }
        finally
        {
            stores.Restore("mix");
        }
    }

    /// <summary>Sets (or with "remove" removes, with "truncate" drops the last element of) the field at a path like
    /// "tensors[0].shape[1]".</summary>
    internal static void Edit(JsonObject manifest, string path, string value)
    {
        var segments = path.Split('.');
        JsonNode node = manifest;
        for (var i = 0; i < segments.Length; i++)
        {
            var (name, index) = Segment(segments[i]);
            var last = i == segments.Length - 1;
            if (last && index is null)
            {
                var obj = node.AsObject();
                if (value == "remove") obj.Remove(name);
                else if (value == "truncate") obj[name]!.AsArray().RemoveAt(obj[name]!.AsArray().Count - 1);
                else obj[name] = JsonNode.Parse(value);
                return;
            }
            node = node[name]!;
            if (index is { } k)
            {
                if (last)
                {
                    node.AsArray()[k] = JsonNode.Parse(value);
                    return;
                }
                node = node[k]!;
            }
        }
    }

    private static (string Name, int? Index) Segment(string s)
    {
        var open = s.IndexOf('[');
        return open < 0 ? (s, null) : (s[..open], int.Parse(s[(open + 1)..^1]));
    }
}
