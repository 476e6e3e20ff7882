namespace Vib3.Kernels;

/// <summary>How a weight matrix's bytes are arranged in memory.</summary>
public enum WeightLayout
{
    /// <summary>Row after row, each as its type stores it (the page format's layout).</summary>
    Rows,

    /// <summary>Groups of eight rows with their blocks interleaved (<see cref="Quant.InterleavedMatrix"/>): Q4_K and
    /// Q6_K held so in RAM, where the tile kernel reads them with no repack per call. Same results bit for bit.</summary>
    Interleaved,
}
