using System.Text.RegularExpressions;

namespace Vib3.Server.PgWire.Tests;

/// <summary>The real psql against PgServer: connection startup, simple queries, errors, GENERATE.</summary>
public sealed class PsqlTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    private Task<PsqlResult> Psql(params string[] args) => Tests.Psql.RunAsync(server.Port, args);

    [Fact]
    public async Task Select_from_vib3_models_lists_the_converted_model()
    {
        var r = await Psql("-A", "-t", "-c", "SELECT name FROM vib3_models");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("m", r.Output.Trim());
    }

    [Fact]
    public async Task Aligned_output_shows_header_and_row_count()
    {
        var r = await Psql("-c", "SELECT name FROM vib3_models");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("name", r.Output);
        Assert.Contains("(1 row)", r.Output);
    }

    [Fact]
    public async Task A_multi_statement_script_runs_every_statement()
    {
        var script = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(script, """
                SET temperature = 0.5;
                SHOW temperature;
                USE MODEL m;
                SHOW model;
                SELECT name, family FROM vib3_models;
                """);
            var r = await Psql("-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", script);
            Assert.True(r.ExitCode == 0, r.Error);
            // Not quiet: psql prints the command tags of the statements that return no rows.
            Assert.Equal(["SET", "0.5", "USE MODEL", "m", "m|qwen3moe"], r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            r = await Psql("-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", script);
            Assert.True(r.ExitCode == 0, r.Error);
            var lines = r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["0.5", "m", "m|qwen3moe"], lines);
        }
        finally { File.Delete(script); }
    }

    [Fact]
    public async Task Several_statements_in_one_query_message_all_answer()
    {
        var r = await Psql("-q", "-A", "-t", "-c", "SET application_name = 'x'; SHOW application_name; SELECT name FROM vib3_models");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal(["x", "m"], r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task An_error_stops_the_script_with_exit_code_3_and_the_sqlstate()
    {
        var script = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(script, """
                \set VERBOSITY verbose
                SELECT name FROM vib3_models;
                SELEKT nonsense;
                SELECT 'never reached';
                """);
            var r = await Psql("-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", script);
            Assert.Equal(3, r.ExitCode);
            Assert.Contains("42601", r.Error);
            Assert.DoesNotContain("never reached", r.Output);
            Assert.Equal("m", r.Output.Trim());
        }
        finally { File.Delete(script); }
    }

    [Fact]
    public async Task The_connection_stays_usable_after_an_error()
    {
        var script = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(script, """
                \set VERBOSITY verbose
                USE MODEL nope;
                SELECT name FROM vib3_models;
                """);
            var r = await Psql("-A", "-t", "-f", script);
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.Contains("42704", r.Error);
            Assert.Equal("m", r.Output.Trim());
        }
        finally { File.Delete(script); }
    }

    [Fact]
    public async Task Generate_returns_one_row_with_token_counts()
    {
        var r = await Psql("-A", "-t", "-c", "GENERATE 'the quick brown fox' FROM MODEL m MAX_TOKENS 4 SEED 1");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(new Regex(@"\|\d+\|\d+\|\w+\s*$"), r.Output);
    }

    [Fact]
    public async Task Streamed_generate_returns_one_row_per_token()
    {
        var r = await Psql("-A", "-t", "-F", ",", "-c", "GENERATE 'hello' FROM MODEL m MAX_TOKENS 3 SEED 1 STREAM");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.NotEqual("", r.Output);
    }
}
