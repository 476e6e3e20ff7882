using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Storage.Catalog;

namespace Vib3.ModelReport;

/// <summary>The stored model the report runs: either one already in a data dir, or a Hugging Face folder converted
/// into a temporary data dir (removed on dispose), so the figures come from vib3's own store and forward pass.</summary>
internal sealed class ReportModel : IDisposable
{
    private readonly string? _tempDir;

    private ReportModel(ModelCatalog catalog, string name, string? tempDir)
    {
        Catalog = catalog;
        Name = name;
        _tempDir = tempDir;
    }

    public ModelCatalog Catalog { get; }

    public string Name { get; }

    public static ReportModel Existing(string dataDir, string name) => new(new ModelCatalog(dataDir), name, null);

    public static ReportModel Convert(string hfFolder)
    {
        const string name = "vib3-moe";
        var dir = Directory.CreateTempSubdirectory("vib3-model-report-").FullName;
        try
        {
            var catalog = new ModelCatalog(dir);
            // Default dtype: the checkpoint's own bf16, bit-exact, as `vib3 convert` stores it.
            new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(hfFolder, name));
            return new ReportModel(catalog, name, dir);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    public void Dispose()
    {
        if (_tempDir is not null && Directory.Exists(_tempDir)) Directory.Delete(_tempDir, recursive: true);
    }
}
