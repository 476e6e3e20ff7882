using System.Collections;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Synth;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>
/// Copies a GGUF file with some tensors re-encoded: metadata and tensor order as they were. Makes the files of the
/// low-bit IQ types from a synthetic f32 file (<see cref="Requantise"/>: ggml's own row quantizer with an all-ones
/// importance matrix, since llama.cpp's file quantizer refuses them without one), with the f32 twin that holds
/// exactly the values those blocks decode to.
/// </summary>
internal static class GgufRewrite
{
    /// <summary>A tensor's new type and bytes, or null to copy it as it is.</summary>
    public delegate (DType Type, byte[] Bytes)? Transform(SourceTensor tensor, byte[] bytes);

    /// <summary>Writes <paramref name="quantised"/>: <paramref name="input"/> with every f32 matrix (2 or more
    /// dimensions) whose rows are whole blocks of <paramref name="type"/> quantised to it by ggml, as llama-quantize
    /// would with an importance matrix of ones (vectors such as norms and the expert routers stay f32, as llama-quantize
    /// keeps them: vib3 stores a router as f32 whatever its source type, so a quantised one would be computed with f32
    /// activations where llama.cpp rounds them to Q8_K); and, unless null, <paramref name="decoded"/>: the same file
    /// with those tensors as the f32 values their blocks decode to (vib3's dequantiser, bit-exact with ggml's). Returns
    /// the names of the quantised tensors.</summary>
    public static IReadOnlyCollection<string> Requantise(string input, string quantised, string? decoded, DType type)
    {
        var blocks = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        Write(input, quantised, (t, bytes) =>
        {
            if (t.DType != DType.F32 || t.Shape.Length < 2 || t.Shape[^1] % type.BlockSize() != 0 || IsRouter(t.Name)) return null;
            var columns = t.Shape[^1];
            var importance = Enumerable.Repeat(1f, (int)columns).ToArray();
            var q = GgmlRowQuantizer.Quantize((int)GgufWriter.GgmlType(type), Floats(bytes), t.ElementCount / columns, columns, importance);
            blocks[t.Name] = q;
            return (type, q);
        });
        if (decoded is null) return blocks.Keys;
        Write(input, decoded, (t, _) =>
        {
            if (!blocks.TryGetValue(t.Name, out var q)) return null;
            var values = new float[t.ElementCount];
            DTypeConvert.ToF32(type, q, values);
            var f32 = new byte[values.Length * sizeof(float)];
            Buffer.BlockCopy(values, 0, f32, 0, f32.Length);
            return (DType.F32, f32);
        });
        return blocks.Keys;
    }

    /// <summary>llama-quantize's rule: the expert router (ffn_gate_inp) is never quantised.</summary>
    private static bool IsRouter(string name) => name.Contains("ffn_gate_inp", StringComparison.Ordinal);

    public static void Write(string input, string output, Transform transform)
    {
        using var source = GgufCheckpoint.Open(input);
        var writer = new GgufWriter(source.Alignment);
        foreach (var (key, value) in source.Metadata)
        {
            if (key == "general.alignment") continue; // the writer states its own
            if (value.IsArray) writer.AddArray(key, (GgufWriterType)value.ElementType, (IList)value.Value);
            else writer.AddScalar(key, (GgufWriterType)value.Type, value.Value);
        }
        foreach (var name in source.TensorOrder)
        {
            var t = source.Tensors[name];
            var bytes = new byte[t.ByteLength];
            source.Read(t, 0, bytes);
            var (type, data) = transform(t, bytes) ?? (t.DType, bytes);
            writer.AddTensor(name, type, t.Shape, data);
        }
        writer.Write(output);
    }

    private static float[] Floats(byte[] bytes)
    {
        var values = new float[bytes.Length / sizeof(float)];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
