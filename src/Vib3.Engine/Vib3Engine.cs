using Vib3.Convert.Descriptors;
using Vib3.Storage.Catalog;

namespace Vib3.Engine;

/// <summary>The engine facade: the catalog and the architecture descriptors, and sessions to run statements in.</summary>
public sealed class Vib3Engine
{
    public Vib3Engine(EngineOptions options)
    {
        Options = options;
        Catalog = new ModelCatalog(options.DataDir);
        Descriptors = DescriptorCatalog.LoadDefault();
    }

    public EngineOptions Options { get; }

    public ModelCatalog Catalog { get; }

    public DescriptorCatalog Descriptors { get; }

    public Session OpenSession() => new(this);
}
