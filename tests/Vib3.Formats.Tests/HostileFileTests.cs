using System.Text;
using System.Text.Json.Nodes;
using Vib3.Convert.Config;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Core.IO;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

/// <summary>A model folder made by someone else: special files (FIFOs, devices), symlinks to secrets, sparse files
/// that claim gigabytes, and JSON of the wrong types. Each fails at once with one clean line (a Vib3Exception), never
/// blocks, never allocates by what the file claims, and never echoes bytes of a file that is not a model file.</summary>
public sealed class HostileFileTests : IDisposable
{
    private const string Secret = "root:*:20000:0:99999:7:::\nbin:*:20000:0:99999:7:::\n";

    private readonly TempFolder _tmp = new();
    private readonly SyntheticModelSpec _spec = Specs.Small(ModelFamily.Mixtral, DType.F32) with { Layers = 1 };

    public void Dispose() => _tmp.Dispose();

    private string Hf()
    {
        var folder = _tmp.Sub("hf");
        SyntheticModelGenerator.WriteHf(_spec, folder);
        return folder;
    }

    private string Gguf()
    {
        var file = _tmp.Sub("m.gguf");
        SyntheticModelGenerator.WriteGguf(_spec, file);
        return file;
    }

    private string SecretFile()
    {
        var path = _tmp.Sub("shadow");
        File.WriteAllText(path, Secret);
        return path;
    }

    private static Vib3Exception Clean(Exception? e, string state, params string[] mentions)
    {
        var v = Assert.IsType<Vib3Exception>(e);
        Assert.Equal(state, v.SqlState);
        Assert.DoesNotContain('\n', v.Message);
        foreach (var m in mentions) Assert.Contains(m, v.Message, StringComparison.OrdinalIgnoreCase);
        return v;
    }

    // ------------------------------------------------------------ special files

    [Fact]
    public void Config_json_as_a_fifo_fails_at_once_instead_of_blocking()
    {
        var folder = Hf();
        var config = Path.Combine(folder, "config.json");
        File.Delete(config);
        SpecialFiles.MakeFifo(config);
        Clean(SpecialFiles.ThrownWithin(() => HfConfig.Load(folder)), SqlState.InvalidParameterValue, config, "a FIFO", "not a regular file");
    }

    [Fact]
    public void Config_json_linked_to_dev_zero_is_refused_without_reading()
    {
        var folder = Hf();
        var config = Path.Combine(folder, "config.json");
        SpecialFiles.Symlink(config, "/dev/zero");
        var (bytes, error) = SpecialFiles.Allocated(() => HfConfig.Load(folder));
        Clean(error, SqlState.InvalidParameterValue, config, "a device");
        Assert.True(bytes < 1 << 20, $"allocated {bytes} bytes");
    }

    [Fact]
    public void A_huge_sparse_config_json_is_refused_by_its_size_before_it_is_read()
    {
        var folder = Hf();
        var config = Path.Combine(folder, "config.json");
        SpecialFiles.Extend(config, 4L << 30);
        var (bytes, error) = SpecialFiles.Allocated(() => HfConfig.Load(folder));
        Clean(error, SqlState.ProgramLimitExceeded, config, "4.00 GiB", ByteSize.Format(ModelFileLimits.ConfigJsonBytes));
        Assert.True(bytes < 1 << 20, $"allocated {bytes} bytes");
    }

    [Fact]
    public void Checkpoint_files_that_are_fifos_fail_at_once()
    {
        var folder = Hf();
        var weights = Path.Combine(folder, "model.safetensors");
        File.Delete(weights);
        SpecialFiles.MakeFifo(weights);
        Clean(SpecialFiles.ThrownWithin(() => CheckpointReader.Open(folder).Dispose()), SqlState.InvalidParameterValue, weights, "a FIFO");

        var gguf = _tmp.Sub("fifo.gguf");
        SpecialFiles.MakeFifo(gguf);
        Clean(SpecialFiles.ThrownWithin(() => CheckpointReader.Open(gguf).Dispose()), SqlState.InvalidParameterValue, gguf, "a FIFO");
        Clean(SpecialFiles.ThrownWithin(() => GgufCheckpoint.Open(gguf).Dispose()), SqlState.InvalidParameterValue, gguf, "a FIFO");
    }

    [Fact]
    public void Safetensors_index_json_as_a_fifo_fails_at_once()
    {
        var folder = _tmp.Sub("sharded");
        SyntheticModelGenerator.WriteHf(_spec with { Shards = 2 }, folder);
        var index = Path.Combine(folder, SafetensorsCheckpoint.IndexFileName);
        File.Delete(index);
        SpecialFiles.MakeFifo(index);
        Clean(SpecialFiles.ThrownWithin(() => CheckpointReader.Open(folder).Dispose()), SqlState.InvalidParameterValue, index, "a FIFO");
    }

    // ------------------------------------------------------------ nothing echoed from a file that is not a model file

    [Fact]
    public void A_safetensors_symlink_to_a_secret_does_not_reveal_its_first_bytes()
    {
        var folder = Hf();
        var weights = Path.Combine(folder, "model.safetensors");
        SpecialFiles.Symlink(weights, SecretFile());
        var e = Clean(SpecialFiles.ThrownWithin(() => CheckpointReader.Open(folder).Dispose()), SqlState.InvalidParameterValue, weights, "header length");
        var asNumber = BitConverter.ToUInt64(Encoding.ASCII.GetBytes(Secret), 0).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.DoesNotContain(asNumber, e.Message);
        Assert.DoesNotContain("root", e.Message);
    }

    [Fact]
    public void A_gguf_or_config_symlink_to_a_secret_does_not_reveal_its_bytes()
    {
        var secret = SecretFile();
        var gguf = _tmp.Sub("secret.gguf");
        File.CreateSymbolicLink(gguf, secret);
        Assert.DoesNotContain("root", Clean(SpecialFiles.ThrownWithin(() => CheckpointReader.Open(gguf).Dispose()),
            SqlState.InvalidParameterValue, "not a GGUF file").Message);

        var folder = Hf();
        SpecialFiles.Symlink(Path.Combine(folder, "config.json"), secret);
        var e = Clean(SpecialFiles.ThrownWithin(() => HfConfig.Load(folder)), SqlState.InvalidParameterValue, "not valid JSON", "line 1");
        Assert.DoesNotContain("'r'", e.Message);
        Assert.DoesNotContain("root", e.Message);
    }

    // ------------------------------------------------------------ JSON of the wrong shape

    [Fact]
    public void Invalid_utf8_in_a_safetensors_header_is_one_clean_line()
    {
        var folder = Hf();
        var weights = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        var name = Encoding.ASCII.GetBytes("model.norm.weight");
        var at = bytes.AsSpan().IndexOf(name);
        bytes[at] = 0xC3; // a lead byte followed by ASCII: not UTF-8
        File.WriteAllBytes(weights, bytes);
        Clean(SpecialFiles.ThrownWithin(() => CheckpointReader.Open(folder).Dispose()), SqlState.InvalidParameterValue, weights, "not valid UTF-8");
    }

    [Fact]
    public void Data_offsets_as_strings_are_one_clean_line()
    {
        var folder = Hf();
        var weights = Path.Combine(folder, "model.safetensors");
        Corrupt.EditSafetensorsHeader(weights, h => h["model.norm.weight"]!["data_offsets"] = new JsonArray("0", "256"));
        Clean(SpecialFiles.ThrownWithin(() => CheckpointReader.Open(folder).Dispose()), SqlState.InvalidParameterValue,
            weights, "model.norm.weight", "data_offsets");
    }

    [Theory]
    [InlineData("\"architectures\": [1]", "architectures")]
    [InlineData("\"architectures\": [null]", "architectures")]
    public void Architectures_that_are_not_names_are_one_clean_line(string json, string field)
    {
        var folder = Hf();
        File.WriteAllText(Path.Combine(folder, "config.json"), "{" + json + "}");
        Clean(SpecialFiles.ThrownWithin(() => _ = HfConfig.Load(folder).Architecture), SqlState.InvalidParameterValue, "config.json", field);
    }

    [Fact]
    public void A_number_beyond_double_range_is_one_clean_line()
    {
        var folder = Hf();
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"hidden_size\": 1e400, \"sizes\": [1, 2e999]}");
        var config = HfConfig.Load(folder);
        Clean(SpecialFiles.ThrownWithin(() => config.GetNumber("hidden_size")), SqlState.InvalidParameterValue, "hidden_size", "out of range");
        Clean(SpecialFiles.ThrownWithin(() => config.GetNumbers("sizes")), SqlState.InvalidParameterValue, "sizes", "out of range");
    }

    // ------------------------------------------------------------ GGUF counts

    /// <summary>Offset of the u64 element count of metadata array <paramref name="key"/>.</summary>
    private static long ArrayCountAt(string file, string key) => Corrupt.FindGgufString(file, key) + 8 + key.Length + 4 + 4;

    [Theory]
    [InlineData((1UL << 31) + 1)]      // used to be OverflowException (a negative array size)
    [InlineData((1UL << 32) + 1)]      // used to be cast to 1 and read as a one-element array
    [InlineData(300_000_000UL)]        // used to allocate 2.4 GB of string references from a sparse file
    public void Gguf_array_counts_are_bounded_by_the_header_not_by_a_sparse_files_size(ulong count)
    {
        var f = Gguf();
        Corrupt.PatchU64(f, ArrayCountAt(f, "tokenizer.ggml.tokens"), count);
        SpecialFiles.Extend(f, 40L << 30); // 40 GiB of holes: room for every count above, by the file's size
        var (bytes, error) = SpecialFiles.Allocated(() => GgufCheckpoint.Open(f).Dispose());
        Clean(error, SqlState.InvalidParameterValue, f, "tokenizer.ggml.tokens", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "header limit");
        Assert.True(bytes < 16 << 20, $"allocated {bytes} bytes");
    }

    [Fact]
    public void A_gguf_header_past_the_limit_is_refused_as_it_is_read()
    {
        var f = Gguf();
        var key = "general.name";
        var lengthAt = Corrupt.FindGgufString(f, key) + 8 + key.Length + 4;
        Corrupt.PatchU64(f, lengthAt, (ulong)GgufCheckpoint.MaxHeaderBytes); // a string value as long as the whole limit
        SpecialFiles.Extend(f, 1L << 30);
        var (bytes, error) = SpecialFiles.Allocated(() => GgufCheckpoint.Open(f).Dispose());
        Clean(error, SqlState.InvalidParameterValue, f, key);
        Assert.True(bytes < 16 << 20, $"allocated {bytes} bytes");
    }
}
