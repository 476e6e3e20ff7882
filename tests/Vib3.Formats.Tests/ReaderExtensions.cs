using Vib3.Convert.Formats;

namespace Vib3.Formats.Tests;

internal static class ReaderExtensions
{
    public static byte[] ReadAll(this ICheckpointReader r, string name)
    {
        var t = r.Tensors[name];
        var b = new byte[t.ByteLength];
        r.Read(t, 0, b);
        return b;
    }
}
