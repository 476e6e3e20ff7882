using System.Diagnostics;
using System.Net;
using System.Text;
using Vib3.Core;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Server.Http.Tests;

/// <summary>The server over a model whose context is 64 tokens, so whatever a fuzzed request asks for, a
/// generation it starts ends within 64 steps.</summary>
public sealed class ShortContextFixture : HttpServerFixture
{
    protected override SyntheticModelSpec Spec => base.Spec with { Context = 64 };
}

/// <summary>Seeded fuzzing of request bodies, bounded in count: structured bodies whose fields take hostile values
/// (wrong types, extreme numbers, undecodable text, deep nesting), and byte-level mutations of valid bodies. Every
/// answer is a 2xx, or a 4xx/501 in OpenAI's error shape — never a 500 — and /health still answers afterwards.</summary>
public sealed class HttpBodyFuzzTests(ShortContextFixture server) : IClassFixture<ShortContextFixture>
{
    private const int Seed = 16;
    private const int Cases = 200; // about 3 s here, on a shared 2-core machine

    private static readonly string[] Fields =
    [
        "model", "prompt", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p",
        "n", "seed", "stop", "stream", "stream_options", "logprobs", "top_logprobs", "presence_penalty",
        "frequency_penalty", "user", "suffix", "echo", "best_of", "tools", "tool_choice", "response_format",
        "logit_bias", "vib3",
    ];

    /// <summary>Values any field may get. Each is valid JSON except the undecodable text (still parseable).</summary>
    private static readonly string[] Values =
    [
        "null", "true", "false", "0", "1", "2", "-1", "1.5", "1e400", "-1e400", "99999999999999999999", "2147483648",
        "9223372036854775808", "-0", "1e-400", "\"\"", "\"m\"", "\"x\"", "\"user\"", "\"text\"", "\"\\u0000\"",
        "\"\\ud800\"", "\"\\udfff\\ud800\"", "\"\\ud83d\\ude00\"", "\"none\"", "\"auto\"", "\"retrieval\"", "[]", "{}",
        "[\"a\"]", "[1, 2]", "[null]", "[\"a\", \"b\", \"c\", \"d\", \"e\"]", "{\"type\": \"text\"}",
        "{\"include_usage\": true}", "{\"routing\": \"retrieval\", \"k\": 1}", "{\"5\": 1}",
        "[{\"role\": \"user\", \"content\": \"hi\"}]", "[{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"a\"}]}]",
        "[{\"role\": \"tool\", \"content\": null}]", "[{\"role\": \"user\", \"content\": \"a\", \"tool_calls\": [1]}]",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    ];

    private static readonly byte[][] Splices =
    [
        [0xFF], [0xC0, 0xAF], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0x00], "\\ud800"u8.ToArray(), "\""u8.ToArray(),
        "{"u8.ToArray(), "]"u8.ToArray(), ","u8.ToArray(), "\\"u8.ToArray(), "9999999999999999999999"u8.ToArray(),
    ];

    private static readonly string[] ValidBodies =
    [
        """{"model": "m", "max_tokens": 2, "prompt": "hello there", "stop": ["x"], "temperature": 0.5, "seed": 3}""",
        """{"model": "m", "max_tokens": 2, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}], "n": 2, "logprobs": true, "top_logprobs": 2}""",
        """{"model": "m", "max_tokens": 2, "prompt": ["hi"], "stream": true, "stream_options": {"include_usage": true}, "logprobs": 2}""",
    ];

    [Fact]
    public async Task Fuzzed_bodies_never_get_a_500_and_the_server_keeps_answering()
    {
        var random = new Random(Seed);
        var clock = Stopwatch.StartNew();
        var statuses = new SortedDictionary<int, int>();
        for (var i = 0; i < Cases; i++)
        {
            var path = random.Next(2) == 0 ? "v1/completions" : "v1/chat/completions";
            var body = random.Next(2) == 0 ? Structured(random) : Mutated(random);
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await server.Http.PostAsync(path, content);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            var text = await response.Content.ReadAsStringAsync();
            var what = $"case {i} (seed {Seed}): {status} for {path} {Encoding.UTF8.GetString(body)} -> {text}";
            Assert.True(status is >= 200 and < 300 or >= 400 and < 500 or 501, what);
            if (status >= 400) Api.Error(System.Text.Json.Nodes.JsonNode.Parse(text));
        }
        using var health = await server.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.True(statuses.Keys.Any(s => s < 300) && statuses.Keys.Any(s => s >= 400),
            $"the fuzz should reach both generation and refusal: {string.Join(", ", statuses)} in {clock.Elapsed}");
    }

    /// <summary>An object of 1–6 known fields with values from the hostile pool (a field may repeat).</summary>
    private static byte[] Structured(Random random)
    {
        var fields = Enumerable.Range(0, random.Next(1, 7)).Select(_ =>
            $"\"{Fields[random.Next(Fields.Length)]}\": {Values[random.Next(Values.Length)]}");
        // most bodies name the model and keep generation short, so they get past the first checks
        var prefix = random.Next(4) == 0 ? "" : "\"model\": \"m\", \"max_tokens\": 2, \"prompt\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"a\"}], ";
        return Encoding.UTF8.GetBytes("{" + prefix + string.Join(", ", fields) + "}");
    }

    /// <summary>A valid body with 1–4 bytes flipped, dropped, or replaced by a splice of hostile bytes.</summary>
    private static byte[] Mutated(Random random)
    {
        var body = Encoding.UTF8.GetBytes(ValidBodies[random.Next(ValidBodies.Length)]).ToList();
        for (var m = random.Next(1, 5); m > 0 && body.Count > 0; m--)
        {
            var at = random.Next(body.Count);
            switch (random.Next(3))
            {
                case 0: body[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: body.RemoveAt(at); break;
                default: body.InsertRange(at, Splices[random.Next(Splices.Length)]); break;
            }
        }
        return [.. body];
    }
}
