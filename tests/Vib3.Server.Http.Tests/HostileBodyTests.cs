using System.Net;
using System.Text;

namespace Vib3.Server.Http.Tests;

/// <summary>Request bodies no JSON serializer would write — invalid UTF-8, lone surrogate escapes, out-of-range
/// numbers, wrong types, deep nesting, oversized or broken transfers — sent as raw bytes: each is a 4xx in OpenAI's
/// error shape naming the field, never a 500, and the server keeps answering.</summary>
public sealed class HostileBodyTests(HttpServerFixture server) : IClassFixture<HttpServerFixture>
{
    private const string Chat = "v1/chat/completions";
    private const string Completions = "v1/completions";

    /// <summary>Text System.Text.Json parses but cannot decode: bytes that are not UTF-8 (a stray 0xFF, an overlong
    /// '/', a sequence cut short) and escapes of surrogates without their other half.</summary>
    public static readonly byte[][] Undecodable =
    [
        [0xFF],
        [0xC0, 0xAF],
        [0xE2, 0x82],
        "\\ud800"u8.ToArray(),
        "\\udc00x"u8.ToArray(),
        "\\ud800\\u0041"u8.ToArray(),
    ];

    /// <summary>A body with the undecodable text where the template says X.</summary>
    private static byte[] With(string template, byte[] text)
    {
        var at = template.IndexOf('X');
        return [.. Encoding.UTF8.GetBytes(template[..at]), .. text, .. Encoding.UTF8.GetBytes(template[(at + 1)..])];
    }

    private async Task ExpectAsync(int status, string path, byte[] body, string? param, string? code = null)
    {
        var (actual, json) = await Api.PostBytesAsync(server.Http, path, body);
        Assert.True(actual == status, $"expected {status}, got {actual}: {json?.ToJsonString()} for {Encoding.UTF8.GetString(body)}");
        var error = Api.Error(json);
        if (param is not null) Assert.Equal(param, (string?)error["param"]);
        if (code is not null) Assert.Equal(code, (string?)error["code"]);
    }

    [Theory]
    [InlineData(Chat, """{"model": "mX", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}""", "model")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hiX"}]}""", "messages[0].content")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "system", "content": "a"}, {"role": "uXser", "content": "b"}]}""", "messages[1].role")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": [{"type": "text", "text": "aXb"}]}]}""", "messages[0].content[0].text")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi", "name": "X"}]}""", "messages[0].name")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], "stop": "X"}""", "stop")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], "stop": ["a", "X"]}""", "stop[1]")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], "user": "X"}""", "user")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], "tool_choice": "X"}""", "tool_choice")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "X"}}""", "response_format.type")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], "vib3": {"routing": "X"}}""", "vib3.routing")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], "metadata": {"X": 1}}""", "metadata")]
    [InlineData(Chat, """{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], "X": 1}""", null)]
    [InlineData(Completions, """{"model": "m", "max_tokens": 2, "prompt": "X"}""", "prompt")]
    [InlineData(Completions, """{"model": "m", "max_tokens": 2, "prompt": ["X"]}""", "prompt[0]")]
    [InlineData(Completions, """{"model": "m", "max_tokens": 2, "prompt": "a", "suffix": "X"}""", "suffix")]
    public async Task Undecodable_text_is_400_naming_the_field(string path, string template, string? param)
    {
        foreach (var text in Undecodable) await ExpectAsync(400, path, With(template, text), param, "invalid_value");
        using var health = await server.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Text_that_does_decode_still_generates()
    {
        // a surrogate pair, NUL and a non-character: odd but valid Unicode, so they reach the model
        var body = """{"model": "m", "max_tokens": 2, "prompt": "\ud83d\ude00 \u0000 \uffff \u00e9"}"""u8.ToArray();
        var (status, json) = await Api.PostBytesAsync(server.Http, Completions, body);
        Assert.True(status == 200, json?.ToJsonString());
    }

    [Theory]
    [InlineData("\"temperature\": 1e400", "temperature")]
    [InlineData("\"n\": 1e3", "n")]
    [InlineData("\"n\": 2.5", "n")]
    [InlineData("\"max_tokens\": 99999999999999999999999", "max_tokens")]
    [InlineData("\"max_tokens\": \"5\"", "max_tokens")]
    [InlineData("\"seed\": 18446744073709551616", "seed")]
    [InlineData("\"top_k\": -2", "top_k")]
    [InlineData("\"top_p\": 1.0000000000000000000000000001", "top_p")]
    [InlineData("\"frequency_penalty\": [1]", "frequency_penalty")]
    [InlineData("\"stream\": \"yes\"", "stream")]
    [InlineData("\"messages\": {\"role\": \"user\", \"content\": \"hi\"}", "messages")]
    [InlineData("\"messages\": [\"hi\"]", "messages[0]")]
    [InlineData("\"messages\": [{\"role\": \"user\", \"content\": 5}]", "messages[0].content")]
    [InlineData("\"messages\": [{\"role\": 5, \"content\": \"hi\"}]", "messages[0].role")]
    [InlineData("\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": {}}]}]", "messages[0].content[0].text")]
    [InlineData("\"messages\": [{\"role\": \"user\", \"content\": [\"hi\"]}]", "messages[0].content[0]")]
    [InlineData("\"model\": [\"m\"]", "model")]
    [InlineData("\"vib3\": {\"routing\": \"retrieval\", \"k\": 1e10}", "vib3.k")]
    public Task Out_of_range_numbers_and_wrong_types_are_400_naming_the_field(string field, string param)
    {
        // a later field overrides the defaults before it (System.Text.Json keeps the last of duplicate names)
        var body = $$"""{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], {{field}}}""";
        return ExpectAsync(400, Chat, Encoding.UTF8.GetBytes(body), param);
    }

    [Fact]
    public async Task A_number_beyond_any_range_is_named_as_written()
    {
        var body = """{"model": "m", "max_tokens": 2, "prompt": "x", "temperature": 1e400}"""u8.ToArray();
        var (status, json) = await Api.PostBytesAsync(server.Http, Completions, body);
        Assert.Equal(400, status);
        Assert.Equal("'temperature' must be between 0 and 2, got 1e400", (string?)Api.Error(json)["message"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("\"m\"")]
    [InlineData("5")]
    [InlineData("{\"model\": \"m\", \"prompt\": \"x\"} {}")]
    [InlineData("{\"model\": \"m\", \"prompt\": NaN}")]
    [InlineData("{\"model\": \"m\", \"prompt\": 'x'}")]
    [InlineData("{\"model\": \"m\", \"prompt\": \"x\",}")]
    public Task Bodies_that_are_not_a_json_object_are_400_invalid_json(string body) =>
        ExpectAsync(400, Completions, Encoding.UTF8.GetBytes(body), param: null, "invalid_json");

    [Theory]
    [InlineData(65)]
    [InlineData(30_000)] // 60 KB: under the fixture's 64 KiB body cap
    public async Task Nesting_deeper_than_the_limit_is_400_invalid_json(int depth)
    {
        var body = $$"""{"model": "m", "max_tokens": 2, "prompt": "x", "stop": {{new string('[', depth)}}{{new string(']', depth)}}}""";
        await ExpectAsync(400, Completions, Encoding.UTF8.GetBytes(body), param: null, "invalid_json");
        using var health = await server.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Nesting_within_the_limit_is_judged_by_its_fields()
    {
        const int depth = 60; // the body object and "stop" are two more levels: 62 of 64
        var body = $$"""{"model": "m", "max_tokens": 2, "prompt": "x", "stop": {{new string('[', depth)}}{{new string(']', depth)}}}""";
        await ExpectAsync(400, Completions, Encoding.UTF8.GetBytes(body), "stop[0]");
    }

    /// <summary>A chunked upload has no Content-Length for Kestrel to refuse up front: the cap applies as it arrives.</summary>
    [Fact]
    public async Task A_chunked_body_over_the_limit_is_413()
    {
        var prompt = new string('x', 200 << 10); // the fixture's cap is 64 KiB
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($$"""{"model": "m", "prompt": "{{prompt}}"}""")));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, Completions) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (string?)Api.Error(await Api.ReadJsonAsync(response))["code"]);
    }

    /// <summary>Framing HttpClient cannot produce: a chunk size that is not hex. Kestrel's own verdict (400) is the
    /// answer, in OpenAI's shape, not an internal error.</summary>
    [Fact]
    public async Task A_broken_chunked_body_is_400_not_500()
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Server.Port);
        var stream = tcp.GetStream();
        var request = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                      $"Authorization: Bearer {HttpServerFixture.ApiKey}\r\nContent-Type: application/json\r\n" +
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var response = await new StreamReader(stream).ReadToEndAsync(cts.Token);
        Assert.StartsWith("HTTP/1.1 400", response);
        var body = response[response.IndexOf('{')..(response.LastIndexOf('}') + 1)]; // the JSON, whatever the framing
        Assert.Equal("bad_request", (string?)Api.Error(System.Text.Json.Nodes.JsonNode.Parse(body))["code"]);
    }
}
