namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'v' NegotiateProtocolVersion: the client asked for a newer minor version (or _pq_ options) than the
/// server speaks; the connection goes on with the version named here.
/// Layout: 'v', Int32 length = 4 + 4 + 4 + each unrecognized option's bytes + 1 terminator, Int32 newest minor
/// version supported (for the requested major version), Int32 count of unrecognized options, then their names as cstrings.</summary>
internal sealed class NegotiateProtocolVersion(int newestMinor, IReadOnlyList<string> unrecognizedOptions) : IBackendMessage
{
    public int NewestMinor { get; } = newestMinor;
    public IReadOnlyList<string> UnrecognizedOptions { get; } = unrecognizedOptions;

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'v');
        buffer.WriteInt32(NewestMinor);
        buffer.WriteInt32(UnrecognizedOptions.Count);
        foreach (var o in UnrecognizedOptions) buffer.WriteCString(o);
        buffer.End();
    }
}
