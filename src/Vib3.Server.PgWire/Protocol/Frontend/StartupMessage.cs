namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>StartupMessage (no type byte): Int32 length = 4 + 4 + the parameter bytes (each name and value a
/// cstring) + 1 final zero byte; Int32 protocol version (major in the high 16 bits, minor in the low: 196608 is
/// 3.0, 196610 is 3.2); then name/value cstring pairs (user is required; database, application_name, options,
/// and _pq_.* protocol extensions are optional), ended by a lone zero byte.</summary>
internal sealed class StartupMessage(int major, int minor, IReadOnlyDictionary<string, string> parameters) : IFrontendMessage
{
    public int Major { get; } = major;
    public int Minor { get; } = minor;
    public IReadOnlyDictionary<string, string> Parameters { get; } = parameters;

    public string? Get(string name) => Parameters.TryGetValue(name, out var v) ? v : null;
}
