using System.CommandLine;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Query;

namespace Vib3.Cli.Commands;

/// <summary>vib3 generate [--model NAME] --prompt "..." [--max-tokens N] [--temperature T] [--top-k K] [--top-p P]
/// [--min-p P] [--repeat-penalty R] [--seed S] [--stop STR]... [--ignore-eos] — streams the generated text to stdout.
/// The same GENERATE (or GENERATE CHAT) statement any front end runs, planned and executed by the engine.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "Name of a stored model (see: vib3 models; default: the only one stored)" };
        var context = ModelOptions.Context();
        var kvCache = ModelOptions.KvCache();
        var prompt = new Option<string>("--prompt") { Description = "Text to continue", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy (default)", DefaultValueFactory = _ => 0 };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = all)" };
        var topP = new Option<double>("--top-p") { Description = "Keep the smallest set with this much probability", DefaultValueFactory = _ => 1 };
        var minP = new Option<double>("--min-p") { Description = "Drop tokens below this fraction of the top probability" };
        var repeat = new Option<double>("--repeat-penalty") { Description = "Penalty on the last 64 tokens (1 = none)", DefaultValueFactory = _ => 1 };
        var seed = new Option<long?>("--seed") { Description = "Random seed: the same seed gives the same text" };
        var stop = new Option<string[]>("--stop") { Description = "Stop at this string (repeatable)", AllowMultipleArgumentsPerToken = false };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Never stop at an end-of-generation token: run to --max-tokens" };
        var stats = new Option<bool>("--stats") { Description = "Print tokens, speed and tier statistics to stderr at the end" };
        var chat = new Option<bool>("--chat") { Description = "Treat the prompt as a user message in the model's chat template" };
        var system = new Option<string?>("--system") { Description = "With --chat: a system message before the prompt" };
        var command = new Command("generate", "Generate text from a prompt, streamed to stdout")
        {
            model, context, kvCache, prompt, maxTokens, temperature, topK, topP, minP, repeat, seed, stop, ignoreEos, stats, chat, system,
        };
        command.SetAction(async (r, ct) =>
        {
            if (r.GetValue(topK) is < 0 and var negativeK)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"--top-k must be 0 (all) or more, not {negativeK}");
            if (r.GetValue(seed) is < 0 and var negativeSeed)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"--seed must be 0 or more, not {negativeSeed}");
            var options = new GenerateOptions
            {
                Model = r.GetValue(model) is { } name ? new Identifier(name) : null, MaxTokens = r.GetValue(maxTokens), Temperature = Decimal(r.GetValue(temperature), "--temperature"),
                TopK = r.GetValue(topK) is > 0 and var k ? k : null, TopP = Decimal(r.GetValue(topP), "--top-p"), MinP = Decimal(r.GetValue(minP), "--min-p"),
                RepeatPenalty = Decimal(r.GetValue(repeat), "--repeat-penalty"), Seed = r.GetValue(seed), IgnoreEos = r.GetValue(ignoreEos),
                Stop = new ValueList<Expression>((r.GetValue(stop) ?? []).Select(s => (Expression)new StringLiteral(s))),
            };
            var text = new StringLiteral(r.GetValue(prompt)!);
            GenerationStatement statement = r.GetValue(chat)
                ? new GenerateChat(new ValueList<ChatMessage>(Messages(r.GetValue(system), text)), options)
                : new Generate(text, options);
            await using var engine = GlobalOptions.OpenEngine(r, ModelOptions.EngineOptions(r, model, context, kvCache));
            var plan = engine.Plan(statement);
            await using var stream = await engine.Generations.StartAsync(plan, ChoiceOptions.Default, ct);
            if (stream.ChatTemplate is { FallbackReason: not null } template) // never silently another format than the model's
                await error.WriteLineAsync($"vib3: chat template: {template.Describe()}");
            ChoiceFinished? finished = null;
            await foreach (var e in stream.ReadAllAsync(ct))
                switch (e)
                {
                    case TextDelta d:
                        await output.WriteAsync(d.Text);
                        await output.FlushAsync(ct);
                        break;
                    case ChoiceFinished f:
                        finished = f;
                        break;
                }
            await output.WriteLineAsync();
            if (r.GetValue(stats) && finished is not null)
            {
                var s = engine.Generations.Stats().Single().Tiers;
                await error.WriteLineAsync(
                    $"vib3: {stream.PromptTokens} prompt + {finished.CompletionTokens} generated tokens in {finished.Elapsed.TotalSeconds:0.00} s " +
                    $"(first token {finished.TimeToFirstToken.TotalSeconds:0.00} s), finish {finished.FinishReason}, seed {stream.Seeds[0]}; " +
                    $"pages: {s.Hits} hits, {s.Misses} misses, {s.BytesRead / 1e6:0.0} MB read from disk");
            }
            return 0;
        });
        return command;
    }

    /// <summary>The statement's decimal from a command-line number (1e-3 and 0.7 alike; 0.7 stays 0.7).</summary>
    private static decimal Decimal(double value, string option) => double.IsFinite(value) && Math.Abs(value) < 1e15
        ? (decimal)value
        : throw new Vib3Exception(SqlState.InvalidParameterValue, $"{option} {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not a usable number");

    private static IEnumerable<ChatMessage> Messages(string? system, StringLiteral prompt)
    {
        if (system is { Length: > 0 }) yield return new ChatMessage(new StringLiteral("system"), new StringLiteral(system));
        yield return new ChatMessage(new StringLiteral("user"), prompt);
    }
}
