using System.CommandLine;
using System.Net;
using System.Text;
using Vib3.Core;
using Vib3.Server.Http;
using Vib3.Server.PgWire;

namespace Vib3.Cli.Commands;

/// <summary>vib3 serve's options on who may connect and what they may do: the secrets (from the environment or a
/// file, preferred to argv, which `ps` shows to every user of the machine), the trusted networks, the admin user,
/// the import directories, and trust only on loopback.</summary>
internal sealed class ServeAccessOptions
{
    /// <summary>A password or key file larger than this is not a password or key file.</summary>
    public const int MaxSecretFileBytes = 4096;

    private const string PgPasswordVariable = "VIB3_PG_PASSWORD";
    private const string ApiKeyVariable = "VIB3_API_KEY";

    private readonly Option<string?> _pgPassword = new("--pg-password")
    {
        Description = $"Require this password (SCRAM-SHA-256) from every Postgres client; visible in ps, prefer ${PgPasswordVariable} or --pg-password-file (default: ${PgPasswordVariable}, else none: trust, on loopback only)",
    };
    private readonly Option<string?> _pgPasswordFile = new("--pg-password-file")
    {
        Description = "Read the Postgres password from this file (its first line)",
    };
    private readonly Option<string?> _apiKey = new("--api-key")
    {
        Description = $"Require 'Authorization: Bearer KEY' on every HTTP request but /health; visible in ps, prefer ${ApiKeyVariable} or --api-key-file (default: ${ApiKeyVariable}, else none: loopback only)",
    };
    private readonly Option<string?> _apiKeyFile = new("--api-key-file") { Description = "Read the HTTP API key from this file (its first line)" };
    private readonly Option<bool> _insecureNoAuth = new("--insecure-no-auth")
    {
        Description = "Allow listening beyond loopback with no password / API key (a warning is printed; remote Postgres users stay read-only)",
    };
    private readonly Option<string[]> _trustedNetworks = new("--trusted-network")
    {
        Description = "Postgres clients from this network (CIDR, repeatable) are local: they administer and may CREATE MODEL from any path; 'none' trusts no one (default 127.0.0.0/8 and ::1)",
    };
    private readonly Option<string?> _pgAdminUser = new("--pg-admin-user")
    {
        Description = "Only this Postgres user administers (CREATE/DROP MODEL, CREATE/DROP INDEX), from anywhere; needs a password (default: local clients administer, remote ones are read-only)",
    };
    private readonly Option<string[]> _importDirs = new("--import-dir")
    {
        Description = "Remote sessions may CREATE MODEL from files under this folder (repeatable; default none); links leading out of it are refused",
    };

    public IEnumerable<Option> All => [_pgPassword, _pgPasswordFile, _apiKey, _apiKeyFile, _insecureNoAuth, _trustedNetworks, _pgAdminUser, _importDirs];

    public string? PgPassword(ParseResult r) => Secret(r, _pgPassword, _pgPasswordFile, PgPasswordVariable);

    public string? ApiKey(ParseResult r) => Secret(r, _apiKey, _apiKeyFile, ApiKeyVariable);

    public bool InsecureNoAuth(ParseResult r) => r.GetValue(_insecureNoAuth);

    public string? PgAdminUser(ParseResult r) => r.GetValue(_pgAdminUser);

    public IReadOnlyList<string> ImportDirs(ParseResult r) => r.GetValue(_importDirs) ?? [];

    public IReadOnlyList<IPNetwork> TrustedNetworks(ParseResult r)
    {
        var given = r.GetValue(_trustedNetworks) ?? [];
        if (given.Length == 0) return PgServerOptions.DefaultTrustedNetworks;
        if (given is ["none"]) return [];
        return given.Select(g => IPNetwork.TryParse(g, out var n) ? n
            : throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"--trusted-network '{g}' is not a network in CIDR form (e.g. 10.0.0.0/8, fd00::/8) or 'none' alone")).ToList();
    }

    /// <summary>Before anything binds: the one-line refusal when a server would listen beyond loopback with no secret
    /// (returns <see cref="Vib3Cli.ExitRefused"/>), else null, after a warning for each server --insecure-no-auth
    /// leaves open. <paramref name="pgAsks"/> / <paramref name="httpAsks"/>: whether that server asks for its secret;
    /// null when it is not served.</summary>
    public int? RefuseExposure(ParseResult r, IPAddress address, bool? pgAsks, bool? httpAsks, TextWriter error)
    {
        var insecure = InsecureNoAuth(r);
        var servers = new (string Server, bool? Asks, string Secret)[]
        {
            ("Postgres", pgAsks, PgServer.SecretDescription), ("HTTP", httpAsks, HttpServer.SecretDescription),
        };
        foreach (var (server, asks, secret) in servers)
            if (asks is { } a && Engine.ListenRule.Refusal(address, a, insecure, server, secret) is { } refusal)
            {
                error.WriteLine($"vib3: error: {refusal} [SQLSTATE {SqlState.InvalidAuthorizationSpecification}]");
                return Vib3Cli.ExitRefused;
            }
        foreach (var (server, asks, _) in servers)
            if (asks is false && !IPAddress.IsLoopback(address))
                error.WriteLine($"vib3: warning: {server} on {address} asks for no login (--insecure-no-auth): anyone who can reach it may use it");
        return null;
    }

    /// <summary>The secret from argv, else its file, else the environment; null when none is given.</summary>
    private static string? Secret(ParseResult r, Option<string?> argv, Option<string?> file, string variable)
    {
        var (inline, path) = (r.GetValue(argv), r.GetValue(file));
        if (inline is not null && path is not null)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"give {argv.Name} or {file.Name}, not both");
        var secret = inline ?? (path is not null ? ReadSecretFile(path, file.Name) : Environment.GetEnvironmentVariable(variable));
        if (secret is "")
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"the secret given by {(path is not null ? file.Name : inline is not null ? argv.Name : variable)} is empty");
        return secret;
    }

    /// <summary>The file's first line (a trailing newline is not part of the secret).</summary>
    private static string ReadSecretFile(string path, string option)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
            var buffer = new byte[MaxSecretFileBytes + 1];
            var n = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (n > MaxSecretFileBytes)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"{option} {path}: more than {MaxSecretFileBytes} bytes; expected one line");
            bytes = buffer[..n];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Vib3Exception(SqlState.IoError, $"{option} {path}: {e.Message}");
        }
        var text = Encoding.UTF8.GetString(bytes);
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}
