using System.Net;

namespace Vib3.Server.Http;

/// <summary>Where and how the OpenAI-compatible HTTP server listens.</summary>
public sealed record HttpServerOptions
{
    /// <summary>TCP port; 0 picks a free one (see <see cref="HttpServer.Port"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Address to listen on; null: 127.0.0.1 (only this machine can connect).</summary>
    public IPAddress? ListenAddress { get; init; }

    /// <summary>The key every request but /health must send as <c>Authorization: Bearer KEY</c>; null: no check,
    /// which the server allows only on a loopback address unless <see cref="InsecureNoAuth"/> says otherwise.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Listen beyond loopback with no API key (--insecure-no-auth).</summary>
    public bool InsecureNoAuth { get; init; }

    /// <summary>Request bodies larger than this are refused with 413.</summary>
    public long MaxBodyBytes { get; init; } = 4L << 20;

    /// <summary>Models loaded before the server reports ready; /health and the generation endpoints answer 503
    /// until they are warm.</summary>
    public IReadOnlyList<string> Preload { get; init; } = [];

    /// <summary>How long stopping waits for requests in flight (their generations are cancelled first).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How each of <see cref="Preload"/> is made ready.</summary>
    public Hosting.IModelWarmUp WarmUp { get; init; } = Hosting.EngineWarmUp.Instance;
}
