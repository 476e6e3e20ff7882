using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Prometheus;
using Vib3.Engine;
using Vib3.Server.Http.Api;
using Vib3.Server.Http.Hosting;
using Vib3.Server.Http.Metrics;
using Vib3.Server.Http.Responses;

namespace Vib3.Server.Http;

/// <summary>An OpenAI-compatible HTTP server (Kestrel) over a vib3 engine: /v1/models, /v1/completions,
/// /v1/chat/completions, /health and /metrics. The engine belongs to the caller (the CLI shares it with the
/// Postgres wire server); stopping the server cancels its requests' generations but leaves the engine open.</summary>
public sealed class HttpServer : IAsyncDisposable
{
    private readonly Vib3Engine _engine;
    private readonly HttpServerOptions _options;
    private readonly ServerMetrics _metrics;
    private readonly Readiness _readiness = new();
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;

    public HttpServer(Vib3Engine engine, HttpServerOptions? options = null)
    {
        _engine = engine;
        _options = options ?? new HttpServerOptions();
        if (_options.MaxBodyBytes < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxBodyBytes must be at least 1");
        _metrics = new ServerMetrics(engine.Generations);
    }

    /// <summary>What <see cref="ListenRule"/> names as the secret this server asks for.</summary>
    public const string SecretDescription = "an API key (--api-key-file or VIB3_API_KEY)";

    /// <summary>The port listened on (the one chosen when the options said 0); 0 before <see cref="StartAsync"/>.</summary>
    public int Port { get; private set; }

    /// <summary>Whether the preloaded models are warm (what /health reports).</summary>
    public bool IsReady => _readiness.IsReady;

    /// <summary>Starts listening at once; models to preload warm up in the background (/health says when).</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        if (_app is not null) throw new InvalidOperationException("the server is already started");
        ListenRule.Check(_options.ListenAddress ?? IPAddress.Loopback, _options.ApiKey is not null, _options.InsecureNoAuth, "HTTP", SecretDescription);
        foreach (var model in _options.Preload)
            if (!_engine.Catalog.Exists(model))
                throw new Vib3.Core.Vib3Exception(Vib3.Core.SqlState.UndefinedObject, $"model \"{model}\" to preload does not exist");
        _app = Build();
        await _app.StartAsync(ct);
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
        Port = new Uri(addresses.Addresses.First()).Port;
        _readiness.Begin(WarmUpAsync);
    }

    private async Task WarmUpAsync()
    {
        foreach (var model in _options.Preload) await _options.WarmUp.WarmUpAsync(_engine, model, _stopping.Token);
    }

    private WebApplication Build()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.Listen(_options.ListenAddress ?? IPAddress.Loopback, _options.Port);
            k.Limits.MaxRequestBodySize = _options.MaxBodyBytes;
            k.AddServerHeader = false;
        });
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = _options.ShutdownTimeout);
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>(); // the owner of the process handles its signals
        var app = builder.Build();

        app.UseRouting();
        app.Use(CountRequestsAsync);
        app.Use(ErrorHandling.InvokeAsync);
        app.UseStatusCodePages(status => ErrorWriter.WriteAsync(status.HttpContext, ErrorHandling.ForStatus(status.HttpContext)));
        if (_options.ApiKey is { } key) app.Use(new ApiKeyCheck(key).InvokeAsync);

        app.MapGet("/health", HealthAsync);
        app.MapGet("/metrics", MetricsAsync);
        app.MapGet("/v1/models", ctx => ModelsEndpoint.ListAsync(ctx, _engine.Catalog));
        app.MapGet("/v1/models/{id}", ctx => ModelsEndpoint.GetAsync(ctx, _engine.Catalog));
        foreach (ApiFlavor flavor in new ApiFlavor[] { TextFlavor.Instance, ChatFlavor.Instance })
            app.MapPost(flavor.Route, new GenerationEndpoint(_engine, _metrics, _readiness, _options, flavor, _stopping.Token).HandleAsync);
        return app;
    }

    private async Task CountRequestsAsync(HttpContext ctx, RequestDelegate next)
    {
        try { await next(ctx); }
        finally
        {
            // label by route, not by path: unknown paths would otherwise grow the label set without bound
            var endpoint = (ctx.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            _metrics.Request(endpoint, ctx.Response.StatusCode);
        }
    }

    private async Task HealthAsync(HttpContext ctx)
    {
        ctx.Response.StatusCode = _readiness.IsReady ? 200 : 503;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(JsonBytes.Object(w => w.WriteString("status", _readiness.Describe())), ctx.RequestAborted);
    }

    private async Task MetricsAsync(HttpContext ctx)
    {
        ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await _metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted);
    }

    /// <summary>Cancels running generations, then stops Kestrel (waiting up to the shutdown timeout).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        _stopping.Dispose();
    }
}
