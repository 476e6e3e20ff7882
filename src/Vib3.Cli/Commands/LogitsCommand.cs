using System.CommandLine;
using System.Text.Json;

namespace Vib3.Cli.Commands;

/// <summary>vib3 logits --model NAME --tokens 1,5,9 [--all-positions] → {"n_vocab":N,"logits":[[...],...]}.
/// A stable interface other tools (and the differential tests' users) read.</summary>
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
            using var session = await ModelOptions.OpenAsync(r, model, context, kvCache, ct);
            var logits = await session.LogitsAsync(ids, r.GetValue(all), ct);
            await using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream))
            {
                json.WriteStartObject();
                json.WriteNumber("n_vocab", session.Forward.Hyper.Vocab);
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
