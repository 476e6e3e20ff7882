using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Models.Inference;
using Vib3.Query;
using Vib3.Query.Planning;

namespace Vib3.Cli.Commands;

/// <summary>vib3 perplexity --model NAME --file TEXT [--context N] [--stride N] [--using "ROUTER" | "RETRIEVAL ..."]
/// [--kl-against "ROUTER"] [--oracle SHARE [--oracle-random]] → one JSON object: tokens scored, perplexity, mean NLL,
/// expert bytes read per token, and against a reference routing KL and top-1 agreement (llama-perplexity's job, with
/// vib3's routings). The text is tokenized as a prompt is; <see cref="PerplexityEvaluation"/> says how the windows are
/// scored.</summary>
internal static class PerplexityCommand
{
    public static Command Create(TextWriter output)
    {
        var model = ModelOptions.Model();
        var kvCache = ModelOptions.KvCache();
        var file = new Option<string>("--file") { Description = "UTF-8 text to score", Required = true };
        var context = new Option<int?>("--context")
        {
            Description = $"Tokens per window (default: {GenerationService.DefaultPerplexityContext}, or the model's context where shorter)",
        };
        var stride = new Option<int?>("--stride")
        {
            Description = "Tokens between window starts, 1..context (default: the context: disjoint windows); a window scores only the predictions " +
                          "the windows before it did not",
        };
        var routing = new Option<string>("--using")
        {
            Description = "The routing to score, as a USING clause: ROUTER (default) or RETRIEVAL [k=K ...]", DefaultValueFactory = _ => "ROUTER",
        };
        var klAgainst = new Option<string?>("--kl-against")
        {
            Description = "Also compare with this routing (a USING clause, e.g. ROUTER): mean KL(it ‖ scored) and top-1 agreement",
        };
        var oracle = new Option<double?>("--oracle")
        {
            Description = "Instead of a USING routing, the page oracle: the router's experts, every page computed, only this share (0..1] of each " +
                          "token's pages with the largest contribution added in (the ceiling of paging inside experts; it saves nothing itself)",
        };
        var control = new Option<bool>("--oracle-random") { Description = "With --oracle: keep that share of the pages at random (the control)" };
        var command = new Command("perplexity", "Score a model's next-token predictions on a text file, as JSON")
        {
            model, file, context, stride, routing, klAgainst, kvCache, oracle, control,
        };
        command.SetAction(async (r, ct) =>
        {
            var path = r.GetValue(file)!;
            var text = ReadText(path);
            var name = r.GetValue(model)!;
            await using var engine = GlobalOptions.OpenEngine(r, GlobalOptions.EngineOptions(r, GlobalOptions.Catalog(r).DataDir) with
            {
                KvCache = ModelOptions.KvCacheTypeOf(r, kvCache),
            });
            var plan = engine.Plan(Statement(name, r.GetValue(routing)!, "--using"));
            var measured = Oracle(r.GetValue(oracle), r.GetValue(control), plan);
            if (measured is not null) plan = plan with { Program = ForwardProgram.Build(plan.Manifest, oracle: measured) };
            var reference = r.GetValue(klAgainst) is { } against ? engine.Plan(Statement(name, against, "--kl-against")) : null;
            var clock = Stopwatch.StartNew();
            var result = await engine.Generations.PerplexityAsync(plan, reference, text, r.GetValue(context), r.GetValue(stride), ct);
            await using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                json.WriteStartObject();
                json.WriteString("model", plan.Model);
                json.WriteString("file", path);
                json.WriteString("using", r.GetValue(routing));
                var ran = PlanPrinter.Routing(plan.Routing, plan.Manifest.Hyper.Experts); // what ran, a fallback included
                if (measured is { } o)
                    ran += string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"; page oracle: {(o.Random ? "a random" : "the largest-contribution")} {o.Keep:0.###} of each token's pages added in (every page computed)");
                json.WriteString("routing", ran);
                json.WriteNumber("windows", result.Windows);
                json.WriteNumber("tokens", result.Tokens);
                json.WriteNumber("mean_nll", result.MeanNll);
                json.WriteNumber("perplexity", result.Perplexity);
                json.WriteNumber("expert_bytes_per_token", result.ExpertBytesPerToken);
                if (reference is not null)
                {
                    json.WriteString("kl_against", r.GetValue(klAgainst));
                    json.WriteString("kl_against_routing", PlanPrinter.Routing(reference.Routing, reference.Manifest.Hyper.Experts));
                    json.WriteNumber("kl", result.Kl!.Value);
                    json.WriteNumber("top1_agreement", result.Top1Agreement!.Value);
                }
                json.WriteNumber("seconds", clock.Elapsed.TotalSeconds);
                json.WriteEndObject();
            }
            await output.WriteLineAsync(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return 0;
        });
        return command;
    }

    /// <summary>--oracle's measurement, or null without it; refused (22023) outside (0, 1], over a retrieval routing,
    /// or as --oracle-random alone.</summary>
    private static PageOracle? Oracle(double? keep, bool random, GenerationPlan plan)
    {
        if (keep is null)
            return random ? throw new Vib3Exception(SqlState.InvalidParameterValue, "--oracle-random needs --oracle SHARE") : null;
        if (keep is not (> 0 and <= 1))
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"--oracle keeps a share of the pages in (0, 1], not {keep}");
        if (plan.Program.Retrieval is not null)
            throw new Vib3Exception(SqlState.InvalidParameterValue, "--oracle measures pages of the router's experts: use it with --using ROUTER");
        return new PageOracle(keep.Value, random);
    }

    /// <summary>The file's text; a missing, unreadable or empty file is one clear error.</summary>
    private static string ReadText(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Vib3Exception(SqlState.IoError, $"--file {path}: {e.Message}");
        }
        if (text.Length == 0) throw new Vib3Exception(SqlState.InvalidParameterValue, $"--file {path} is empty: there is nothing to score");
        return text;
    }

    /// <summary>GENERATE on <paramref name="model"/> with the USING clause <paramref name="routing"/>, parsed as any
    /// statement is (its errors name the option they came from).</summary>
    internal static GenerationStatement Statement(string model, string routing, string option)
    {
        try
        {
            var statements = StatementParser.Parse($"GENERATE 'x' FROM MODEL \"{model.Replace("\"", "\"\"", StringComparison.Ordinal)}\" USING {routing}");
            if (statements is [GenerationStatement statement]) return statement;
        }
        catch (Vib3Exception e)
        {
            throw new Vib3Exception(e.SqlState, $"{option} '{routing}' is not a USING clause: {e.Message}");
        }
        throw new Vib3Exception(SqlState.SyntaxError, $"{option} '{routing}' is not a USING clause (ROUTER, or RETRIEVAL [mass=M | budget=B] [k=K ...])");
    }
}
