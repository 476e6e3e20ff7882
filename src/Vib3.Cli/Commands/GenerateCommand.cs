using System.CommandLine;
using Vib3.Models.Inference;
using Vib3.Models.Sampling;
using Vib3.Models.Tokenization;

namespace Vib3.Cli.Commands;

/// <summary>vib3 generate --model NAME --prompt "..." [--max-tokens N] [--temperature T] [--top-k K] [--top-p P]
/// [--min-p P] [--repeat-penalty R] [--seed S] [--stop STR]... — streams the generated text to stdout.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = ModelOptions.Model();
        var context = ModelOptions.Context();
        var kvCache = ModelOptions.KvCache();
        var prompt = new Option<string>("--prompt") { Description = "Text to continue", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy (default)", DefaultValueFactory = _ => 0f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = all)" };
        var topP = new Option<float>("--top-p") { Description = "Keep the smallest set with this much probability", DefaultValueFactory = _ => 1f };
        var minP = new Option<float>("--min-p") { Description = "Drop tokens below this fraction of the top probability" };
        var repeat = new Option<float>("--repeat-penalty") { Description = "Penalty on recently generated tokens (1 = none)", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong?>("--seed") { Description = "Random seed: the same seed gives the same text" };
        var stop = new Option<string[]>("--stop") { Description = "Stop at this string (repeatable)", AllowMultipleArgumentsPerToken = false };
        var stats = new Option<bool>("--stats") { Description = "Print tokens, speed and tier statistics to stderr at the end" };
        var chat = new Option<bool>("--chat") { Description = "Treat the prompt as a user message in the model's chat template" };
        var system = new Option<string?>("--system") { Description = "With --chat: a system message before the prompt" };
        var command = new Command("generate", "Generate text from a prompt, streamed to stdout")
        {
            model, context, kvCache, prompt, maxTokens, temperature, topK, topP, minP, repeat, seed, stop, stats, chat, system,
        };
        command.SetAction(async (r, ct) =>
        {
            var sampling = new SamplerOptions
            {
                Temperature = r.GetValue(temperature), TopK = r.GetValue(topK), TopP = r.GetValue(topP),
                MinP = r.GetValue(minP), RepetitionPenalty = r.GetValue(repeat), Seed = r.GetValue(seed),
            };
            sampling.Validate();
            using var session = await ModelOptions.OpenAsync(r, model, context, kvCache, ct);
            var tokenizer = TokenizerLoader.Load(session.Weights.TokenizerDir, session.Weights.Manifest.Tokenizer, session.Weights.Manifest.Hyper.Vocab);
            var text = r.GetValue(prompt)!;
            bool? addBos = null;
            if (r.GetValue(chat))
            {
                var messages = new List<(string Role, string Content)>();
                if (r.GetValue(system) is { Length: > 0 } sys) messages.Add(("system", sys));
                messages.Add(("user", text));
                var chatPrompt = ChatPrompt.Render(session.Weights, messages, ct);
                (text, addBos) = (chatPrompt.Text, chatPrompt.AddBos);
                if (chatPrompt.Template.FallbackReason is not null) // never silently another format than the model's
                    await error.WriteLineAsync($"vib3: chat template: {chatPrompt.Template.Describe()}");
            }
            var request = new TextGenerationRequest(text, r.GetValue(maxTokens), sampling, r.GetValue(stop) ?? [], addBos);
            var outcome = new GenerationOutcome();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await foreach (var piece in new TextGenerator(session, tokenizer).GenerateAsync(request, outcome, ct))
            {
                await output.WriteAsync(piece);
                await output.FlushAsync(ct);
            }
            await output.WriteLineAsync();
            if (r.GetValue(stats))
            {
                var s = session.Weights.Store.Stats;
                await error.WriteLineAsync(
                    $"vib3: {outcome.PromptTokens} prompt + {outcome.GeneratedTokens} generated tokens in {clock.Elapsed.TotalSeconds:0.00} s, " +
                    $"finish {outcome.FinishReason}, seed {outcome.Seed}; pages: {s.Hits} hits, {s.Misses} misses, {s.BytesRead / 1e6:0.0} MB read from disk");
            }
            return 0;
        });
        return command;
    }
}
