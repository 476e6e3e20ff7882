using System.CommandLine;
using System.Text.Json;
using Vib3.Engine;

namespace Vib3.Cli.Commands;

/// <summary>vib3 logits --model NAME --tokens 1,5,9 [--all-positions] → {"n_vocab":N,"logits":[[...],...]}.
/// A stable interface other tools (and the differential tests' users) read. The engine feeds the tokens into an empty
/// cache on the model's scheduler, as it runs every statement.</summary>
internal static class LogitsCommand
{
    public static Command Create(TextWriter output)
    {
        var model = ModelOptions.Model();
        var context = ModelOptions.Context();
        var kvCache = ModelOptions.KvCache();
        var tokens = new Option<string>("--tokens") { Description = "Comma-separated token ids", Required = true };
        var all = new Option<bool>("--all-positions") { Description = "Logits of every position, not just the last" };
        var command = new Command("logits", "Print the logits a model gives for token ids, as JSON") { model, context, kvCache, tokens, all };
        command.SetAction(async (r, ct) =>
        {
            var ids = ModelOptions.ParseTokens(r.GetValue(tokens)!);
            await using var engine = GlobalOptions.OpenEngine(r, ModelOptions.EngineOptions(r, model, context, kvCache));
            var logits = await engine.Generations.LogitsAsync(r.GetValue(model)!, ids, r.GetValue(all), ct);
            await using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream))
            {
                json.WriteStartObject();
                json.WriteNumber("n_vocab", logits[0].Length);
                json.WriteStartArray("logits");
                foreach (var row in logits)
                {
                    json.WriteStartArray();
                    foreach (var v in row) json.WriteNumberValue(v);
                    json.WriteEndArray();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            await output.WriteLineAsync(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return 0;
        });
        return command;
    }
}
