namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'D' Describe: Byte1 'D', Int32 length, Byte1 'S' (a prepared statement: ParameterDescription then
/// RowDescription or NoData) or 'P' (a portal: RowDescription or NoData), String the name ("" = unnamed).</summary>
internal sealed class DescribeMessage(byte kind, string name) : IFrontendMessage
{
    public byte Kind { get; } = kind;
    public string Name { get; } = name;

    public static DescribeMessage Read(byte[] body)
    {
        var r = new BodyReader(body, "Describe");
        var kind = r.ReadByte();
        var name = r.ReadCString();
        r.End();
        if (kind is not ((byte)'S' or (byte)'P')) throw new PgProtocolException($"invalid DESCRIBE message subtype {kind}");
        return new DescribeMessage(kind, name);
    }
}
