using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vib3.Server.Http.Api;

/// <summary>Every JSON body the server writes goes through here: one object, written by hand so its shape is
/// exactly OpenAI's.</summary>
internal static class JsonBytes
{
    // Bodies are JSON for API clients, never embedded in HTML: no need to escape ', <, > or non-ASCII text.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Object(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
