namespace Vib3.Core;

/// <summary>SQLSTATE codes vib3 reports; every front end maps errors through these.</summary>
public static class SqlState
{
    public const string SyntaxError = "42601";
    public const string UndefinedTable = "42P01";
    public const string UndefinedObject = "42704";
    public const string DuplicateObject = "42710";
    public const string FeatureNotSupported = "0A000";
    public const string InvalidParameterValue = "22023";
    public const string DataCorrupted = "XX001";
    public const string IoError = "58030";
    public const string DiskFull = "53100";
    public const string InsufficientResources = "53000";
    public const string OutOfMemory = "53200";
    public const string QueryCanceled = "57014";
    public const string ProgramLimitExceeded = "54000";
    /// <summary>statement_too_complex: a statement nests deeper than the parser allows (PostgreSQL's stack depth error).</summary>
    public const string StatementTooComplex = "54001";
    public const string InternalError = "XX000";
    public const string InsufficientPrivilege = "42501";
    public const string InvalidAuthorizationSpecification = "28000";
}
