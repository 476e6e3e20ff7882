using System.Collections.Concurrent;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Index;
using Vib3.Engine.Serving;
using Vib3.Query;
using Vib3.Query.Planning;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Engine;

/// <summary>The engine facade: the catalog and the architecture descriptors, sessions to run statements in, and the
/// generation service whose continuous batches every front end shares.</summary>
public sealed class Vib3Engine : IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, Session> _sessions = new();
    private long _lastSessionId;

    public Vib3Engine(EngineOptions options)
    {
        if (options.MaxBatch is < 1 or > Models.Inference.ForwardPass.MaxBatchRows)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"the batch must hold 1 to {Models.Inference.ForwardPass.MaxBatchRows} sequences, not {options.MaxBatch}");
        if (options.MaxQueue < 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"the queue length must be 0 or more, not {options.MaxQueue}");
        Options = options;
        DeviceTier = Models.Device.DeviceTier.Open(options.Accelerator, options.VramBudgetBytes, out var notice);
        AcceleratorNotice = notice;
        PagePool = new PagePool(options.RamBudgetBytes, options.CachePolicy);
        Catalog = new ModelCatalog(options.DataDir);
        Descriptors = DescriptorCatalog.LoadDefault();
        Imports = new ImportScope(options.ImportDirs);
        Generations = new GenerationService(this);
    }

    public EngineOptions Options { get; }

    /// <summary>The accelerator and its VRAM budget, which every open model's resident matrices share; null when the CPU
    /// runs everything.</summary>
    public Models.Device.DeviceTier? DeviceTier { get; }

    /// <summary>Why the CPU runs everything though an accelerator was asked for (no device, a failed start); null
    /// otherwise. Front ends show it where their users look.</summary>
    public string? AcceleratorNotice { get; }

    /// <summary>The RAM budget every open model's pages share (--ram-budget).</summary>
    public PagePool PagePool { get; }

    public ModelCatalog Catalog { get; }

    public DescriptorCatalog Descriptors { get; }

    public GenerationService Generations { get; }

    /// <summary>Where remote sessions may import models from.</summary>
    public ImportScope Imports { get; }

    /// <summary>A session for a client with <paramref name="access"/>: every front end says who its client is
    /// (the command line is a local administrator; the Postgres server decides from the peer address and user).</summary>
    public Session OpenSession(ClientAccess access)
    {
        var session = new Session(this, access, Interlocked.Increment(ref _lastSessionId));
        _sessions[session.Id] = session;
        return session;
    }

    /// <summary>Every open session, by id (vib3_sessions).</summary>
    internal IEnumerable<Session> Sessions => _sessions.Values.OrderBy(s => s.Id);

    /// <summary>A disposed session leaves the registry.</summary>
    internal void Forget(Session session) => _sessions.TryRemove(session.Id, out _);

    /// <summary>Binds a GENERATE / GENERATE CHAT statement to a model, as every front end does: the SQL ones from
    /// parsed text, the HTTP one from a request it turned into the same tree.</summary>
    public GenerationPlan Plan(GenerationStatement statement, string? currentModel = null, IReadOnlyList<object?>? parameters = null) =>
        Planner.Plan(statement, PlanningContext(currentModel, parameters));

    /// <summary>What the planner knows: the catalog, the model's page indexes, the RAM budget, the parameters.</summary>
    internal PlannerContext PlanningContext(string? currentModel, IReadOnlyList<object?>? parameters) =>
        new(name => Catalog.Exists(name) ? Catalog.Get(name) : null, currentModel, Options.RamBudgetBytes, parameters)
        {
            RamUse = Generations.RamUse,
            StoredModels = () => Catalog.List().Where(x => x.Manifest is not null).Select(x => x.Name).ToList(),
            AcceleratorNotice = AcceleratorNotice,
            Placement = DeviceTier is { } tier
                ? name => Generations.OpenModel(name)?.Forward.Device is { } d
                    ? new DevicePlacement(tier.Device.Name, tier.BudgetBytes, tier.UsedBytes, d.CandidateNames, d.Names, d.Failure,
                        d.Experts is { } e ? new ExpertCachePlacement(e.Slots, e.SlotBytes, e.Pages, e.Resident) : null)
                    : new DevicePlacement(tier.Device.Name, tier.BudgetBytes, tier.UsedBytes, null, null)
                : null,
            FindIndex = name =>
            {
                var dir = Catalog.ModelDir(name);
                var calibration = PageIndexFolder.ReadCalibration(dir);
                return PageIndexFolder.Headers(dir)
                    .Select(x => new IndexedLayer(x.Header, x.Graph is { } g ? HnswIndex.ReadHeader(g).M : null,
                        PageIndexFolder.NeuronKeys(dir, x.Header.Layer), calibration)).ToArray();
            },
        };

    /// <summary>Closes the open models, then frees the page memory no lease holds and the accelerator.</summary>
    public async ValueTask DisposeAsync()
    {
        await Generations.DisposeAsync().ConfigureAwait(false);
        PagePool.Dispose();
        DeviceTier?.Dispose(); // after the models, whose resident matrices it holds
    }
}
