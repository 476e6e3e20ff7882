using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Query.Execution;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Cli;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Store;

/// <summary>A data directory holding a good model next to a corrupt one and one an older vib3 wrote, as every reader
/// meets it: vib3 models / info, SHOW MODELS and vib3_models, GENERATE in an engine that goes on serving the good
/// model. Each broken one is one line (XX001 for corrupt, the reconvert advice for old), never an internal error,
/// and never hides the others.</summary>
public sealed class CorruptStoreTests(CorruptStoreTests.Stores stores) : IClassFixture<CorruptStoreTests.Stores>
{
    /// <summary>good, bad and old, converted once for the class.</summary>
    public sealed class Stores : IDisposable
    {
        private readonly TempDir _dir = new();

        public Stores()
        {
            var source = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
            var catalog = new ModelCatalog(Data);
            var converter = new ModelConverter(catalog, DescriptorCatalog.LoadDefault());
            foreach (var name in new[] { "good", "bad", "old" }) converter.Convert(new ConversionRequest(source, name, PageRows: 32));

            // bad: top-k 0 behind a valid checksum (the adversarial run generated with it); validation must refuse it.
            var bad = JsonNode.Parse(File.ReadAllText(Path.Combine(catalog.ModelDir("bad"), ManifestFile.FileName)))!.AsObject();
            bad["hyper"]!["topK"] = 0;
            ManifestFile.Write(catalog.ModelDir("bad"), bad.Deserialize<ModelManifest>(new JsonSerializerOptions(JsonSerializerDefaults.Web))!);

            // old: what vib3 wrote before store format 2, a format 1 manifest without checksum and a version 1 page table.
            var oldDir = catalog.ModelDir("old");
            var old = JsonNode.Parse(File.ReadAllText(Path.Combine(oldDir, ManifestFile.FileName)))!.AsObject();
            old["formatVersion"] = 1;
            old.Remove("checksum");
            File.WriteAllText(Path.Combine(oldDir, ManifestFile.FileName), old.ToJsonString());
            var table = File.ReadAllBytes(Path.Combine(oldDir, "pages.tbl"));
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4), 1);
            File.WriteAllBytes(Path.Combine(oldDir, "pages.tbl"), table);
        }

        public string Data => _dir.Sub("data");

        public void Dispose() => _dir.Dispose();
    }

    private string Data => stores.Data;

    private const string BadLine = "model bad's manifest is corrupt: hyper.topK is 0, must be between 1 and hyper.experts = 4";

    private const string OldLine = "model old was converted by an older vib3 (its manifest is format 1; this vib3 reads format 2): convert it again from its source " +
                                   "(vib3 drop old, then vib3 convert SOURCE --name old; or DROP MODEL old, then CREATE MODEL old FROM 'SOURCE')";

    [Fact]
    public void Vib3_info_names_what_is_wrong_in_one_line()
    {
        var bad = CliRun.Run(Data, "info", "bad");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, bad.ExitCode);
        Assert.Equal($"vib3: error: {BadLine} [SQLSTATE {SqlState.DataCorrupted}]", bad.Error.Trim());

        var old = CliRun.Run(Data, "info", "old");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, old.ExitCode);
        Assert.Equal($"vib3: error: {OldLine} [SQLSTATE {SqlState.FeatureNotSupported}]", old.Error.Trim());

        var good = CliRun.Run(Data, "info", "good");
        Assert.True(good.ExitCode == 0, good.Error);
    }

    [Fact]
    public void Vib3_models_lists_every_model_with_the_broken_ones_marked()
    {
        var r = CliRun.Run(Data, "models");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("mixtral (MixtralForCausalLM)", r.Output);
        Assert.Equal(2, r.Output.Split("unreadable").Length - 1);
    }

    [Fact]
    public void Show_models_and_vib3_models_list_the_good_model_and_each_broken_one_with_its_error()
    {
        foreach (var (sql, errorColumn) in new[] { ("SHOW MODELS", 10), ("SELECT * FROM vib3_models", 11) })
        {
            var r = CliRun.Run(Data, "query", sql, "--format", "json");
            Assert.True(r.ExitCode == 0, r.Error);
            var rows = JsonDocument.Parse(r.Output).RootElement.GetProperty("rows").EnumerateArray()
                .ToDictionary(row => row[0].GetString()!, row => row);
            Assert.Equal(["bad", "good", "old"], rows.Keys.Order());
            Assert.Equal("mixtral", rows["good"][1].GetString());
            Assert.Equal(JsonValueKind.Null, rows["good"][errorColumn].ValueKind);
            Assert.Equal(BadLine, rows["bad"][errorColumn].GetString());
            Assert.Equal(JsonValueKind.Null, rows["bad"][1].ValueKind);
            Assert.Equal(OldLine, rows["old"][errorColumn].GetString());
        }
    }

    [Fact]
    public async Task Generate_from_a_broken_model_is_one_line_and_the_engine_goes_on_serving_the_good_one()
    {
        await using var engine = new Vib3Engine(new EngineOptions(Data, 64L << 20));
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        foreach (var (model, state, line) in new[] { ("bad", SqlState.DataCorrupted, BadLine), ("old", SqlState.FeatureNotSupported, OldLine) })
        {
            var ex = await Assert.ThrowsAsync<Vib3Exception>(() => RunAsync(session, $"GENERATE 'the cat' FROM MODEL {model} MAX_TOKENS 2 SEED 1"));
            Assert.Equal(state, ex.SqlState);
            Assert.Equal(line, ex.Message);
        }
        var rows = await RunAsync(session, "GENERATE 'the cat' FROM MODEL good MAX_TOKENS 2 SEED 1");
        Assert.Single(rows);
    }

    [Fact]
    public void A_damaged_page_table_fails_the_open_not_the_listing()
    {
        var catalog = new ModelCatalog(Data);
        var path = Path.Combine(catalog.ModelDir("good"), "pages.tbl");
        var original = File.ReadAllBytes(path);
        try
        {
            var table = (byte[])original.Clone();
            table[^3] ^= 0x10; // a bit of the last page's checksum
            File.WriteAllBytes(path, table);

            var r = CliRun.Run(Data, "query", "GENERATE 'the cat' FROM MODEL good MAX_TOKENS 2 SEED 1");
            Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
            Assert.StartsWith("vib3: error: model good's page table is corrupt: checksum mismatch", r.Error.Trim());
            Assert.EndsWith($"[SQLSTATE {SqlState.DataCorrupted}]", r.Error.Trim());
            Assert.DoesNotContain('\n', r.Error.Trim());
            Assert.Equal(0, CliRun.Run(Data, "info", "good").ExitCode); // the manifest alone is fine
        }
        finally
        {
            File.WriteAllBytes(path, original);
        }
    }

    private static async Task<List<object?[]>> RunAsync(Session session, string sql)
    {
        StatementResult? result = null;
        await foreach (var r in session.ExecuteAsync(sql)) result = r;
        var rows = new List<object?[]>();
        await foreach (var row in result!.Rows) rows.Add(row);
        return rows;
    }
}
