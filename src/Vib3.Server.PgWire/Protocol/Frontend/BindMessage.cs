namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'B' Bind: Byte1 'B', Int32 length, String portal name ("" = unnamed), String statement name,
/// Int16 count of parameter format codes (0: all text, 1: the one applies to all, N: one per parameter) and the
/// Int16 codes (0 text, 1 binary), Int16 parameter count then per parameter Int32 length (-1 = NULL, no bytes)
/// and the bytes, Int16 count of result format codes (same three forms) and the codes. Answered by BindComplete '2'.</summary>
internal sealed class BindMessage(string portal, string statement, IReadOnlyList<short> parameterFormats,
    IReadOnlyList<byte[]?> parameters, IReadOnlyList<short> resultFormats) : IFrontendMessage
{
    public string Portal { get; } = portal;
    public string Statement { get; } = statement;
    public IReadOnlyList<short> ParameterFormats { get; } = parameterFormats;
    public IReadOnlyList<byte[]?> Parameters { get; } = parameters;
    public IReadOnlyList<short> ResultFormats { get; } = resultFormats;

    public static BindMessage Read(byte[] body)
    {
        var r = new BodyReader(body, "Bind");
        var portal = r.ReadCString();
        var statement = r.ReadCString();
        var formats = new short[r.ReadCount()];
        for (var i = 0; i < formats.Length; i++) formats[i] = r.ReadInt16();
        var values = new byte[]?[r.ReadCount()];
        for (var i = 0; i < values.Length; i++)
        {
            var length = r.ReadInt32();
            values[i] = length == -1 ? null : r.ReadBytes(length);
        }
        var results = new short[r.ReadCount()];
        for (var i = 0; i < results.Length; i++) results[i] = r.ReadInt16();
        r.End();
        return new BindMessage(portal, statement, formats, values, results);
    }

    /// <summary>The format of value <paramref name="index"/> of <paramref name="count"/> under the three forms
    /// of a format-code list; null when the list's length fits none of them.</summary>
    public static short? FormatOf(IReadOnlyList<short> codes, int index, int count) => codes.Count switch
    {
        0 => 0,
        1 => codes[0],
        _ when codes.Count == count => codes[index],
        _ => null,
    };
}
