namespace Vib3.Core;

/// <summary>An error a user can act on: one clear line plus the SQLSTATE the front ends report.</summary>
public sealed class Vib3Exception : Exception
{
    public Vib3Exception(string sqlState, string message, Exception? inner = null) : base(message, inner)
    {
        SqlState = sqlState;
    }

    public string SqlState { get; }
}
