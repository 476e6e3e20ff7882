namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'P' Parse (extended protocol): Byte1 'P', Int32 length, String statement name ("" = the unnamed
/// statement), String query text (one statement), Int16 count of parameter types, then that many Int32 type OIDs
/// (0 = unspecified). Answered by ParseComplete '1'.</summary>
internal sealed class ParseMessage(string statement, string sql, IReadOnlyList<int> parameterTypes) : IFrontendMessage
{
    public string Statement { get; } = statement;
    public string Sql { get; } = sql;
    public IReadOnlyList<int> ParameterTypes { get; } = parameterTypes;

    public static ParseMessage Read(byte[] body)
    {
        var r = new BodyReader(body, "Parse");
        var name = r.ReadCString();
        var sql = r.ReadCString();
        var types = new int[r.ReadCount()];
        for (var i = 0; i < types.Length; i++) types[i] = r.ReadInt32();
        r.End();
        return new ParseMessage(name, sql, types);
    }
}
