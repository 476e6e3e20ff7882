using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A PgServer on an ephemeral port over a temp data dir holding one tiny converted model, "m".</summary>
public class PgServerFixture : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vib3-pg-" + Guid.NewGuid().ToString("N")[..12]);

    public PgServer Server { get; private set; } = null!;

    /// <summary>The engine behind <see cref="Server"/> (its generation counters).</summary>
    public Vib3Engine Engine { get; private set; } = null!;

    public int Port => Server.Port;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var source = Path.Combine(_dir, "qwen3moe-hf");
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Qwen3Moe, Layers = 2, Dim = 64, ExpertHidden = 80, Heads = 4, KvHeads = 2,
            Experts = 4, TopK = 2, Vocab = 300, Context = Context, Seed = 7, DType = DType.F32, SharedExpertHidden = 64,
        }, source);
        var data = Path.Combine(_dir, "data");
        new ModelConverter(new ModelCatalog(data), DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, "m", PageRows: 32));
        var maxPage = new ModelCatalog(data).Get("m").MaxPageBytes;
        Engine = new Vib3Engine(ConfigureEngine(new EngineOptions(data, RamBudget(maxPage))));
        Server = new PgServer(Engine, Configure(new PgServerOptions { Port = 0, StartupTimeout = TimeSpan.FromSeconds(5) }));
        await Server.StartAsync();
    }

    /// <summary>The model's context in tokens.</summary>
    protected virtual int Context => 128;

    /// <summary>The engine's RAM budget: room for the whole model unless a subclass wants its pages read from disk.</summary>
    protected virtual long RamBudget(int maxPageBytes) => 64L << 20;

    /// <summary>Subclasses adjust the engine options (import directories).</summary>
    protected virtual EngineOptions ConfigureEngine(EngineOptions options) => options;

    /// <summary>Subclasses adjust the server options (a password, a test seam).</summary>
    protected virtual PgServerOptions Configure(PgServerOptions options) => options;

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }
}
