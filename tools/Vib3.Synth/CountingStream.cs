namespace Vib3.Synth;

/// <summary>Write-only pass-through that counts bytes, so writers can check a producer wrote exactly
/// what the header promised.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    public long Count { get; private set; }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => Count;
    public override long Position { get => Count; set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        Count += count;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        Count += buffer.Length;
    }

    public override void WriteByte(byte value)
    {
        inner.WriteByte(value);
        Count++;
    }

    public static void Run(Stream target, string what, long expected, Action<Stream> writeData)
    {
        var counter = new CountingStream(target);
        writeData(counter);
        if (counter.Count != expected)
            throw new InvalidOperationException($"{what}: producer wrote {counter.Count} bytes, header says {expected}");
    }
}
