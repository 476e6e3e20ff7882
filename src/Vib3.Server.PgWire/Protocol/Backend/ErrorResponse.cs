namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>The fields ErrorResponse and NoticeResponse share.</summary>
/// <param name="Severity">ERROR, FATAL, PANIC (errors); WARNING, NOTICE, DEBUG, INFO, LOG (notices).</param>
/// <param name="Position">1-based character index into the query text where the error is, when known.</param>
internal sealed record ErrorFields(string Severity, string SqlState, string Message, string? Detail = null, string? Hint = null,
    int? Position = null);

/// <summary>Writes the field list of 'E' and 'N': each field is one type byte then a cstring, the list ends with a zero byte.</summary>
internal static class ErrorFieldWriter
{
    public static void Write(MessageBuffer buffer, byte type, ErrorFields f)
    {
        buffer.Begin(type);
        Field(buffer, 'S', f.Severity); // localized severity
        Field(buffer, 'V', f.Severity); // the same, never localized (9.6+ clients read this one)
        Field(buffer, 'C', f.SqlState);
        Field(buffer, 'M', f.Message);
        if (f.Detail is { } d) Field(buffer, 'D', d);
        if (f.Hint is { } h) Field(buffer, 'H', h);
        if (f.Position is { } p) Field(buffer, 'P', p.ToString(System.Globalization.CultureInfo.InvariantCulture));
        buffer.WriteByte(0);
        buffer.End();
    }

    private static void Field(MessageBuffer buffer, char code, string value)
    {
        buffer.WriteByte((byte)code);
        buffer.WriteCString(value);
    }
}

/// <summary>'E' ErrorResponse: the statement (or the connection, for FATAL) failed.
/// Layout: 'E', Int32 length = 4 + per field (1 type byte + the value's bytes + 1 terminator) + 1 final zero byte,
/// then the fields: S severity, V severity (not localized), C SQLSTATE, M message, D detail, H hint, P position.</summary>
internal sealed class ErrorResponse(ErrorFields fields) : IBackendMessage
{
    public ErrorFields Fields { get; } = fields;

    public void Write(MessageBuffer buffer) => ErrorFieldWriter.Write(buffer, (byte)'E', Fields);
}

/// <summary>'N' NoticeResponse: a warning or note; the statement goes on. Layout as ErrorResponse, type byte 'N'.</summary>
internal sealed class NoticeResponse(ErrorFields fields) : IBackendMessage
{
    public ErrorFields Fields { get; } = fields;

    public void Write(MessageBuffer buffer) => ErrorFieldWriter.Write(buffer, (byte)'N', Fields);
}
