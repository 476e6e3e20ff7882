using Vib3.Core;
using Vib3.Core.IO;

namespace Vib3.Convert.Formats;

/// <summary>Opens whatever a path holds: a folder is a safetensors checkpoint, a file starting with "GGUF" is
/// GGUF, a lone *.safetensors file is a one-file safetensors checkpoint.</summary>
public static class CheckpointReader
{
    public static ICheckpointReader Open(string path)
    {
        if (Directory.Exists(path))
            return SafetensorsCheckpoint.Open(path);
        if (!File.Exists(path))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{path}: no such file or directory");
        Span<byte> magic = stackalloc byte[4];
        int n;
        using (var h = UntrustedFile.OpenRegular(path))
            n = RandomAccess.Read(h, magic, 0);
        if (n == 4 && magic.SequenceEqual("GGUF"u8))
            return GgufCheckpoint.Open(path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return SafetensorsCheckpoint.Open(path);
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            return GgufCheckpoint.Open(path); // reports the bad magic
        throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{path}: not a checkpoint vib3 reads (expected a folder of .safetensors files, a .safetensors file, or a GGUF file)");
    }
}
