using ILGPU;

namespace Vib3.Kernels.Gpu;

/// <summary>Device code: readers of stored floats as f32, so one kernel serves f32, f16 and bf16 weights or caches
/// (each reader compiles into its own kernel).</summary>
internal static class DeviceFloats
{
    /// <summary>Reads value i as f32.</summary>
    public interface IReader
    {
        float At(long i);
    }

    public readonly struct F32(ArrayView<float> values) : IReader
    {
        public float At(long i) => values[i];
    }

    public readonly struct F16(ArrayView<ushort> values) : IReader
    {
        public float At(long i) => (float)Interop.IntAsFloat(values[i]);
    }

    /// <summary>bf16 is the upper half of an f32.</summary>
    public readonly struct BF16(ArrayView<ushort> values) : IReader
    {
        public float At(long i) => Interop.IntAsFloat((uint)values[i] << 16);
    }
}
