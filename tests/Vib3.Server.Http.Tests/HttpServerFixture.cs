using System.ClientModel;
using System.Net.Http.Headers;
using OpenAI;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests;
using Vib3.Tests.Conversion;

namespace Vib3.Server.Http.Tests;

/// <summary>An HttpServer on an ephemeral port over a temp data dir holding one tiny converted model, "m" (random
/// weights: gibberish text, but greedy output is deterministic). Its context is long enough for a generation that
/// is still running when a test cancels it.</summary>
public class HttpServerFixture : IAsyncLifetime
{
    public const string Model = "m";
    public const string ApiKey = "test-key";
    public const int Context = 1024;

    private readonly TempDir _dir = new();

    public Vib3Engine Engine { get; private set; } = null!;

    public HttpServer Server { get; private set; } = null!;

    /// <summary>A client of the server sending the API key.</summary>
    public HttpClient Http { get; private set; } = null!;

    public virtual async ValueTask InitializeAsync()
    {
        var source = SyntheticCheckpoints.Write(_dir, Spec, "hf");
        var data = _dir.Sub("data");
        PrepareCatalog(new ModelConverter(new ModelCatalog(data), DescriptorCatalog.LoadDefault()), source, new ModelCatalog(data));
        Engine = new Vib3Engine(ConfigureEngine(new EngineOptions(data, 64L << 20)));
        Server = new HttpServer(Engine, Configure(new HttpServerOptions { Port = 0, ApiKey = ApiKey, MaxBodyBytes = 64 << 10 }));
        await Server.StartAsync();
        Http = NewHttpClient(ApiKey);
    }

    /// <summary>The model "m" is converted from: a small Qwen3-MoE unless a subclass serves another family.</summary>
    protected virtual SyntheticModelSpec Spec => SyntheticCheckpoints.Small(ModelFamily.Qwen3Moe, DType.F32) with { Context = Context };

    /// <summary>Converts the checkpoint as "m"; subclasses may add models.</summary>
    protected virtual void PrepareCatalog(ModelConverter converter, string source, ModelCatalog catalog) =>
        converter.Convert(new ConversionRequest(source, Model, PageRows: 32));

    /// <summary>Subclasses adjust the engine (a small queue) or the server (a readiness hold).</summary>
    protected virtual EngineOptions ConfigureEngine(EngineOptions options) => options;

    protected virtual HttpServerOptions Configure(HttpServerOptions options) => options;

    public Uri BaseUri => new($"http://127.0.0.1:{Server.Port}/");

    public HttpClient NewHttpClient(string? key)
    {
        var client = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>The official OpenAI .NET client pointed at this server.</summary>
    public OpenAIClient OpenAi(string key = ApiKey) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(BaseUri, "v1") });

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        await Engine.DisposeAsync();
        _dir.Dispose();
    }
}
