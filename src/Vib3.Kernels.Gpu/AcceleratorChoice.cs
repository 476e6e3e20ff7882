using Vib3.Core;

namespace Vib3.Kernels.Gpu;

/// <summary>What <c>--accelerator</c> asks for.</summary>
public enum AcceleratorChoice
{
    /// <summary>A CUDA device when one is present and starts, else the CPU (with a notice saying why).</summary>
    Auto,
    /// <summary>The CPU only.</summary>
    None,
    /// <summary>The first CUDA device; the CPU (with a notice) when there is none or it fails to start.</summary>
    Cuda,
    /// <summary>The GPU kernels on ILGPU's CPU accelerator, emulating a 32-lane warp: slow, for tests and for checking
    /// the GPU path on a machine without one.</summary>
    IlgpuCpu,
}

public static class AcceleratorChoices
{
    /// <summary>The flag's spellings, in the order help lists them.</summary>
    public static readonly string[] Names = ["auto", "none", "cuda", "ilgpu-cpu"];

    public static string Name(this AcceleratorChoice c) => Names[(int)c];

    /// <summary>Reads a flag value; anything else is refused in one line naming the accepted ones.</summary>
    public static AcceleratorChoice Parse(string text)
    {
        var i = Array.IndexOf(Names, text.Trim().ToLowerInvariant());
        return i >= 0
            ? (AcceleratorChoice)i
            : throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"--accelerator {text}: expected one of {string.Join(", ", Names)}");
    }
}
