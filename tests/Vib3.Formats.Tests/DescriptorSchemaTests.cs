using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Formats.Tests;

/// <summary>The family descriptors are selections of the one layer schema: each tensor they name is one the forward
/// pass reads, with the schema's role and place, and the shipped families together use every tensor of the schema.</summary>
public sealed class DescriptorSchemaTests
{
    private static readonly string Shipped = Path.Combine(AppContext.BaseDirectory, "catalog", "families");

    [Fact]
    public void The_shipped_families_together_name_exactly_the_schema_s_tensors()
    {
        var named = DescriptorCatalog.Load(Shipped).Families.SelectMany(f => f.Tensors)
            .Select(t => t.Name.Replace("blk.{l}.", "", StringComparison.Ordinal)).ToHashSet();
        var schema = Enum.GetValues<OperatorKind>().SelectMany(LayerSchema.Of).Select(t => t.BaseName).ToHashSet();
        Assert.Equal(schema.Order(), named.Order());
    }

    [Theory]
    [InlineData("\"blk.{l}.attn_q\"", "\"blk.{l}.attn_zz\"", "tensor \"blk.{l}.attn_zz\" is not a tensor the forward pass reads")]
    [InlineData("\"role\": \"attn_q\"", "\"role\": \"attn_query\"", "tensor \"blk.{l}.attn_q\" has role \"attn_query\", the layer schema's is \"attn_q\"")]
    [InlineData("\"blk.{l}.ffn_gate_inp\"", "\"ffn_gate_inp\"", "tensor \"ffn_gate_inp\" is placed in no layer(s), the layer schema puts it in MoeLayer")]
    public void A_descriptor_that_strays_from_the_schema_is_refused_naming_the_file_and_tensor(string from, string to, string message)
    {
        using var dir = new TempFolder();
        var text = File.ReadAllText(Path.Combine(Shipped, "mixtral.json"));
        Assert.Contains(from, text);
        var file = dir.Sub("mixtral.json");
        File.WriteAllText(file, text.Replace(from, to, StringComparison.Ordinal));
        var e = Assert.Throws<Vib3Exception>(() => DescriptorCatalog.Load(dir.Path));
        Assert.Equal(SqlState.DataCorrupted, e.SqlState);
        Assert.Equal($"{file}: {message}", e.Message);
    }
}
