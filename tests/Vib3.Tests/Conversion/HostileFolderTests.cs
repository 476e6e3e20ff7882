using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Vib3.Core;
using Vib3.Formats.Tests;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Cli;

namespace Vib3.Tests.Conversion;

/// <summary>`vib3 convert` on a model folder built to hurt: special files, huge or wrongly typed values, duplicate
/// tokens, a symlink to a secret. Each ends with one line on stderr and exit 1 (never 70 with a stack trace), at once
/// (no blocked open), with nothing published; two of them run the real binary in its own process.</summary>
public sealed class HostileFolderTests : IDisposable
{
    private const string Secret = "root:*:20000:0:99999:7:::\n";
    private readonly TempDir _dir = new();

    private string Data => _dir.Sub("data");

    public void Dispose() => _dir.Dispose();

    private string Hf() => SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");

    private string Gguf() => SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Qwen3Moe, DType.F32), "gguf");

    /// <summary>Converts in-process on a thread of its own, so an open that blocks fails the test instead of hanging it.</summary>
    private string FailsCleanly(string source, string sqlState, params string[] mentions)
    {
        CliResult? r = null;
        Assert.Null(SpecialFiles.ThrownWithin(() => r = CliRun.Run(Data, "convert", source, "--name", "m"), seconds: 30));
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r!.ExitCode);
        var line = r.Error.Trim();
        Assert.DoesNotContain('\n', line);
        Assert.Contains($"SQLSTATE {sqlState}", line);
        foreach (var m in mentions) Assert.Contains(m, line);
        Assert.DoesNotContain(new ModelCatalog(Data).List(), x => x.Name == "m");
        return line;
    }

    private static void EditConfig(string folder, Action<JsonObject> edit)
    {
        var path = Path.Combine(folder, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void Config_json_as_a_fifo()
    {
        var folder = Hf();
        var config = Path.Combine(folder, "config.json");
        File.Delete(config);
        SpecialFiles.MakeFifo(config);
        FailsCleanly(folder, SqlState.InvalidParameterValue, config, "a FIFO");
    }

    [Fact]
    public void Config_json_linked_to_dev_zero()
    {
        var folder = Hf();
        SpecialFiles.Symlink(Path.Combine(folder, "config.json"), "/dev/zero");
        FailsCleanly(folder, SqlState.InvalidParameterValue, "config.json", "a device");
    }

    [Fact]
    public void Tokenizer_json_as_a_fifo()
    {
        var folder = Hf();
        var tokenizer = Path.Combine(folder, "tokenizer.json");
        File.Delete(tokenizer);
        SpecialFiles.MakeFifo(tokenizer);
        FailsCleanly(folder, SqlState.InvalidParameterValue, tokenizer, "a FIFO");
    }

    [Fact]
    public void Architectures_that_are_not_names()
    {
        var folder = Hf();
        EditConfig(folder, c => c["architectures"] = new JsonArray(1));
        FailsCleanly(folder, SqlState.InvalidParameterValue, "config.json", "'architectures'");
    }

    [Fact]
    public void A_context_length_of_int_max_is_refused_at_conversion()
    {
        var folder = Hf();
        EditConfig(folder, c => c["max_position_embeddings"] = int.MaxValue);
        FailsCleanly(folder, SqlState.InvalidParameterValue, "context_length 2147483647", "16777216");
    }

    [Fact]
    public void Invalid_utf8_in_the_safetensors_header()
    {
        var folder = Hf();
        var weights = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[bytes.AsSpan().IndexOf("lm_head.weight"u8)] = 0xFF;
        File.WriteAllBytes(weights, bytes);
        FailsCleanly(folder, SqlState.InvalidParameterValue, weights, "not valid UTF-8");
    }

    [Fact]
    public void Data_offsets_that_are_strings()
    {
        var folder = Hf();
        var weights = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        var n = (int)BitConverter.ToUInt64(bytes, 0);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject();
        var offsets = header["lm_head.weight"]!["data_offsets"]!.AsArray();
        header["lm_head.weight"]!["data_offsets"] = new JsonArray(offsets[0]!.ToString(), offsets[1]!.ToString());
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        File.WriteAllBytes(weights, [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. bytes.AsSpan(8 + n)]);
        FailsCleanly(folder, SqlState.InvalidParameterValue, "lm_head.weight", "data_offsets");
    }

    [Fact]
    public void Duplicate_gguf_tokens_are_refused_naming_the_ids()
    {
        var file = Gguf();
        var bytes = File.ReadAllBytes(file);
        byte[] needle = [1, 0, 0, 0, 0, 0, 0, 0, (byte)'!', 1, 0, 0, 0, 0, 0, 0, 0, (byte)'"'];
        bytes[bytes.AsSpan().IndexOf(needle) + needle.Length - 1] = (byte)'!'; // byte tokens 36 and 37 both "!"
        File.WriteAllBytes(file, bytes);
        FailsCleanly(file, SqlState.DataCorrupted, "token ids 36 and 37");
    }

    // ------------------------------------------------------------ the real binary

    private static (int Exit, string Stderr) RunVib3(params string[] args)
    {
        var vib3 = typeof(Vib3.Cli.Vib3Cli).Assembly.Location;
        using var process = Process.Start(new ProcessStartInfo("dotnet", [vib3, .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            Assert.Fail("vib3 convert did not finish in 60 s");
        }
        return (process.ExitCode, stderr.Result);
    }

    [Fact]
    public void The_binary_prints_one_line_and_exits_1_for_wrongly_typed_config()
    {
        var folder = Hf();
        EditConfig(folder, c => c["architectures"] = new JsonArray(1));
        var (exit, stderr) = RunVib3("convert", folder, "--name", "m", "--data-dir", Data);
        Assert.Equal(1, exit);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("'architectures'", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void The_binary_does_not_reveal_a_secret_behind_a_safetensors_symlink()
    {
        var folder = Hf();
        var secret = _dir.Sub("shadow");
        File.WriteAllText(secret, Secret);
        SpecialFiles.Symlink(Path.Combine(folder, "model.safetensors"), secret);
        var (exit, stderr) = RunVib3("convert", folder, "--name", "m", "--data-dir", Data);
        Assert.Equal(1, exit);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("header length", stderr);
        Assert.DoesNotContain("root", stderr);
        Assert.DoesNotContain(BitConverter.ToUInt64(Encoding.ASCII.GetBytes(Secret), 0).ToString(System.Globalization.CultureInfo.InvariantCulture), stderr);
    }
}
