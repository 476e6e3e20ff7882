namespace Vib3.Server.PgWire;

/// <summary>SQLSTATE codes the wire layer reports that the engine's <see cref="Vib3.Core.SqlState"/> does not name.</summary>
internal static class PgSqlState
{
    public const string ProtocolViolation = "08P01";
    public const string InvalidBinaryRepresentation = "22P03";
    public const string InvalidTextRepresentation = "22P02";
    public const string CharacterNotInRepertoire = "22021";
    public const string DuplicatePreparedStatement = "42P05";
    public const string UndefinedPreparedStatement = "26000";
    public const string UndefinedCursor = "34000";
    public const string DuplicateCursor = "42P03";
    public const string TooManyConnections = "53300";
    public const string IdleSessionTimeout = "57P05";
    public const string AdminShutdown = "57P01";
    public const string IdleInTransactionSessionTimeout = "25P03";
}
