using Vib3.Core;
using Vib3.Kernels.Gpu;

namespace Vib3.Kernels.Tests.Gpu;

/// <summary>Choosing the accelerator: what each choice opens, and that a missing CUDA device is a notice and the CPU
/// path, never an exception.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class GpuDeviceTests(IlgpuCpuDevice cpu)
{
    [Fact]
    public void None_opens_nothing_and_says_nothing()
    {
        Assert.Null(GpuDevice.Open(AcceleratorChoice.None, out var notice));
        Assert.Null(notice);
    }

    [Fact]
    public void Ilgpu_cpu_emulates_32_lane_warps()
    {
        Assert.Equal(AcceleratorChoice.IlgpuCpu, cpu.Device.Kind);
        Assert.Equal(32, cpu.Device.Accelerator.WarpSize);
        Assert.True(cpu.Device.MemoryBytes > 0);
    }

    /// <summary>Here (no CUDA device) cuda and auto give the CPU and a one-line notice; on a machine with a device they
    /// open it.</summary>
    [Theory]
    [InlineData(AcceleratorChoice.Cuda)]
    [InlineData(AcceleratorChoice.Auto)]
    public void A_cuda_choice_opens_the_device_or_says_why_the_cpu_runs(AcceleratorChoice choice)
    {
        using var device = GpuDevice.Open(choice, out var notice);
        if (device is null)
        {
            Assert.NotNull(notice);
            Assert.StartsWith($"accelerator {choice.Name()}: ", notice);
            Assert.EndsWith("; the CPU runs every operator", notice);
            Assert.DoesNotContain('\n', notice);
        }
        else
        {
            Assert.Equal(AcceleratorChoice.Cuda, device.Kind);
            Assert.Null(notice);
        }
    }

    [Theory]
    [InlineData("auto", AcceleratorChoice.Auto)]
    [InlineData("NONE", AcceleratorChoice.None)]
    [InlineData("cuda", AcceleratorChoice.Cuda)]
    [InlineData(" ilgpu-cpu ", AcceleratorChoice.IlgpuCpu)]
    public void The_flag_s_spellings_parse(string text, AcceleratorChoice expected) =>
        Assert.Equal(expected, AcceleratorChoices.Parse(text));

    [Fact]
    public void Another_spelling_is_refused_naming_the_accepted_ones()
    {
        var e = Assert.Throws<Vib3Exception>(() => AcceleratorChoices.Parse("gpu"));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Equal("--accelerator gpu: expected one of auto, none, cuda, ilgpu-cpu", e.Message);
    }
}
