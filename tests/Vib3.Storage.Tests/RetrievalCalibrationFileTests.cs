using System.Text.Json.Nodes;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Storage.Tests;

/// <summary>The retrieval calibration's file and arithmetic: it reads back what was written, a malformed field is one
/// XX001 line naming the file and the field, curves interpolate between measured masses, and the allocation gives the
/// layer whose truncation moves the output most the larger mass while meeting the KL it is given.</summary>
public sealed class RetrievalCalibrationFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vib3-calibration-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two layers with the same curves (pages kept grow linearly from 10 % to all, error falls linearly to 0);
    /// layer 1's truncation moves the output <paramref name="sensitivity"/> times more than layer 0's.</summary>
    private static RetrievalCalibration Two(double sensitivity = 10)
    {
        var masses = RetrievalCalibration.Grid;
        var pages = masses.Select(m => 0.1 + 0.9 * (m - 0.5) / 0.5).ToArray();
        var error = masses.Select(m => (1 - m) * 0.8).ToArray();
        LayerCalibration Layer(int l, double kl) => new(l, masses.ToArray(), pages, error, error.Select(e => e / 4).ToArray(), kl, 0.08);
        return new RetrievalCalibration("/text/calibration.txt", 4096, masses, [Layer(0, 0.01), Layer(1, 0.01 * sensitivity)], 0.9);
    }

    private string Written(RetrievalCalibration c)
    {
        var path = Path.Combine(_dir, RetrievalCalibrationFile.FileName);
        File.Delete(path);
        RetrievalCalibrationFile.Write(path, c);
        return path;
    }

    [Fact]
    public void It_reads_back_what_was_written()
    {
        var c = Two();
        var back = RetrievalCalibrationFile.Read(Written(c));
        Assert.Equal(c.File, back.File);
        Assert.Equal(c.Tokens, back.Tokens);
        Assert.Equal(c.Masses, back.Masses);
        Assert.Equal(c.ProbeMass, back.ProbeMass);
        Assert.Equal(c.Layers.Count, back.Layers.Count);
        for (var l = 0; l < c.Layers.Count; l++)
        {
            Assert.Equal(c.Layers[l].PagesKept, back.Layers[l].PagesKept);
            Assert.Equal(c.Layers[l].Error, back.Layers[l].Error);
            Assert.Equal(c.Layers[l].ProbeKl, back.Layers[l].ProbeKl);
        }
    }

    [Theory]
    [InlineData("layers[0].pagesKept[3]", "1.5", "layers[0].pagesKept[3] is 1.5, must be a share in [0, 1]")]
    [InlineData("layers[1].error[0]", "-1", "layers[1].error[0] is -1, must be finite and at least 0")]
    [InlineData("masses[4]", "0.2", "masses[4] is 0.2: the masses must ascend within (0, 1]")]
    [InlineData("probeMass", "1", "probeMass is 1, must be in (0, 1)")]
    [InlineData("tokens", "0", "tokens is 0, must be at least 1")]
    [InlineData("layers[1].layer", "0", "layers[1].layer is 0: the layers must ascend")]
    public void A_bad_field_is_data_corrupted_naming_the_file_and_the_field(string field, string value, string expected)
    {
        var path = Written(Two());
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        var parts = field.Replace("]", "").Split('.');
        JsonNode node = json;
        for (var i = 0; i < parts.Length; i++)
        {
            var (name, index) = parts[i].Split('[') is [var n, var at] ? (n, int.Parse(at)) : (parts[i], -1);
            var last = i == parts.Length - 1;
            if (index < 0 && last) node[name] = JsonNode.Parse(value);
            else if (index < 0) node = node[name]!;
            else if (last) node[name]![index] = JsonNode.Parse(value);
            else node = node[name]![index]!;
        }
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<Vib3Exception>(() => RetrievalCalibrationFile.Read(path));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Equal($"{path}: the retrieval calibration is corrupt: {expected}", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_json_is_data_corrupted_naming_it()
    {
        var path = Written(Two());
        File.WriteAllText(path, File.ReadAllText(path)[..40]);
        var e = Assert.Throws<Vib3Exception>(() => RetrievalCalibrationFile.Read(path));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.StartsWith($"{path}: the retrieval calibration is corrupt: ", e.Message);
    }

    [Fact]
    public void Curves_interpolate_between_the_measured_masses()
    {
        var layer = Two().Layers[0];
        var (pages, error) = layer.At(0.905, RetrievalCalibration.Grid); // halfway between 0.90 and 0.91
        Assert.Equal(0.1 + 0.9 * 0.405 / 0.5, pages, 1e-9);
        Assert.Equal(0.095 * 0.8, error, 1e-9);
        Assert.Equal((0.1, 0.4), layer.At(0.2, RetrievalCalibration.Grid)); // below the first: the first's
    }

    [Fact]
    public void The_allocation_gives_the_more_sensitive_layer_the_larger_mass_within_the_kl_it_is_given()
    {
        var c = Two(sensitivity: 10);
        var target = c.PredictedKl(0.9);
        Assert.Equal(0.01 + 0.1, target, 1e-9); // at the probe mass each layer costs its probe's KL
        var chosen = c.Allocate(target);
        Assert.True(chosen[1].Mass > chosen[0].Mass, $"masses {chosen[0].Mass} (layer 0), {chosen[1].Mass} (layer 1, ten times as sensitive)");
        Assert.True(c.Layers.Sum(l => l.PredictedKl(l.At(chosen[l.Layer].Mass, c.Masses).Error)) <= target + 1e-12);
        Assert.True(chosen.Values.Sum(x => x.Pages) < 2 * c.Layers[0].At(0.9, c.Masses).Pages, "the allocation reads fewer pages than 0.9 everywhere");
        var equal = Two(sensitivity: 1).Allocate(kl: 0.02);
        Assert.Equal(equal[0], equal[1]); // alike layers, alike masses
        Assert.All(c.Allocate(0).Values, x => Assert.Equal((1.0, 1.0), x)); // no KL to spend: every page
    }
}
