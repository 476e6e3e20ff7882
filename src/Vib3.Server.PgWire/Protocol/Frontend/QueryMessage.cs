namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'Q' Query (simple query protocol): Byte1 'Q', Int32 length = 4 + the text's UTF-8 bytes + 1
/// terminator, then the query text as a cstring; it may hold several statements separated by ';'.</summary>
internal sealed class QueryMessage(string sql) : IFrontendMessage
{
    public string Sql { get; } = sql;
}
