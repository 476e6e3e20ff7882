using Vib3.Core;
using Vib3.Query;

namespace Vib3.Engine;

/// <summary>The statements that change what the server holds (models and their indexes) need an administrator;
/// the rest (GENERATE, SELECT, SHOW, USE, SET) are open to every client that got in.</summary>
internal static class Privileges
{
    /// <summary>42501 unless <paramref name="access"/> may run <paramref name="statement"/>.</summary>
    public static void Check(Statement statement, ClientAccess access)
    {
        if (access.Administrator || Administrative(statement) is not { } what) return;
        throw new Vib3Exception(SqlState.InsufficientPrivilege,
            $"permission denied: {what} needs an administrator ({access.Client} is read-only)");
    }

    private static string? Administrative(Statement statement) => statement switch
    {
        CreateModel => "CREATE MODEL",
        DropModel => "DROP MODEL",
        CreateIndex => "CREATE INDEX",
        DropIndex => "DROP INDEX",
        _ => null,
    };
}
