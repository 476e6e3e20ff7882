using Microsoft.Win32.SafeHandles;
using Vib3.Core;
using Vib3.Core.IO;

namespace Vib3.Convert.Formats;

/// <summary>Open read handles by path, shared by the readers: positional reads are thread-safe.</summary>
internal sealed class PositionalFiles : IDisposable
{
    private readonly Dictionary<string, SafeFileHandle> _handles = new(StringComparer.Ordinal);
    private bool _disposed;

    public SafeFileHandle Open(string path)
    {
        if (_handles.TryGetValue(path, out var h)) return h;
        h = UntrustedFile.OpenRegular(path);
        _handles[path] = h;
        return h;
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="position"/>; false if the file ends first.</summary>
    public static bool TryReadExactly(SafeFileHandle h, long position, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var n = RandomAccess.Read(h, destination, position);
            if (n <= 0) return false;
            destination = destination[n..];
            position += n;
        }
        return true;
    }

    public void Read(SourceTensor t, long offsetInTensor, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offsetInTensor < 0 || offsetInTensor > t.ByteLength - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(offsetInTensor),
                $"reading {destination.Length} bytes at {offsetInTensor} of tensor '{UntrustedText.Shown(t.Name)}' ({t.ByteLength} bytes)");
        if (!_handles.TryGetValue(t.FilePath, out var h))
            throw new ArgumentException($"tensor '{UntrustedText.Shown(t.Name)}' ({t.FilePath}) is not from this checkpoint", nameof(t));
        if (!TryReadExactly(h, t.DataOffset + offsetInTensor, destination))
            throw new Vib3Exception(SqlState.DataCorrupted,
                $"{t.FilePath}: file ended while reading tensor '{UntrustedText.Shown(t.Name)}' (was it truncated after opening?)");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var h in _handles.Values) h.Dispose();
        _handles.Clear();
    }
}
