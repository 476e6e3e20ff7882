using System.Diagnostics;

namespace Vib3.Server.PgWire.Tests;

public sealed record PsqlResult(int ExitCode, string Output, string Error);

/// <summary>Runs the real psql client against the test server: no psqlrc (-X), never a password prompt (-w).</summary>
public static class Psql
{
    public static Task<PsqlResult> RunAsync(int port, params string[] args) => RunWithPasswordAsync(port, null, args);

    /// <summary>As <see cref="RunAsync"/>, giving <paramref name="password"/> as PGPASSWORD when not null.</summary>
    public static async Task<PsqlResult> RunWithPasswordAsync(int port, string? password, params string[] args)
    {
        var psi = new ProcessStartInfo("psql")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "-h", "127.0.0.1", "-p", port.ToString(), "-U", "test", "-d", "vib3", "-X", "-w" }.Concat(args))
            psi.ArgumentList.Add(a);
        psi.Environment["PGCONNECT_TIMEOUT"] = "10";
        psi.Environment["PGAPPNAME"] = "vib3-tests";
        foreach (var v in new[] { "PGPASSWORD", "PGSERVICE", "PGOPTIONS", "PGSSLMODE", "PGHOSTADDR", "PGTZ" })
            psi.Environment.Remove(v);
        psi.Environment["PGPASSFILE"] = "/dev/null";
        if (password is not null) psi.Environment["PGPASSWORD"] = password;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("psql did not start");
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"psql {string.Join(' ', args)} did not finish in 60 s");
        }
        return new PsqlResult(p.ExitCode, await output, await error);
    }
}
