namespace Vib3.Convert.Formats;

/// <summary>A checkpoint opened for streaming: tensor infos up front, bytes read on demand with positional
/// reads (thread-safe; nothing is loaded into memory).</summary>
public interface ICheckpointReader : IDisposable
{
    /// <summary>The folder or file that was opened.</summary>
    string Path { get; }

    /// <summary>"safetensors" or "gguf".</summary>
    string Format { get; }

    IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    /// <summary>Copies destination.Length bytes of <paramref name="t"/> starting at byte
    /// <paramref name="offsetInTensor"/> of the tensor. Safe to call from several threads at once.</summary>
    void Read(SourceTensor t, long offsetInTensor, Span<byte> destination);
}
