namespace Vib3.Server.Http.Api;

/// <summary>Server-sent events framing as OpenAI streams use it: <c>data: {json}\n\n</c>, ended by <c>data: [DONE]</c>.</summary>
internal static class Sse
{
    public static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public static byte[] Event(ReadOnlySpan<byte> json)
    {
        var frame = new byte[6 + json.Length + 2];
        "data: "u8.CopyTo(frame);
        json.CopyTo(frame.AsSpan(6));
        "\n\n"u8.CopyTo(frame.AsSpan(6 + json.Length));
        return frame;
    }
}
