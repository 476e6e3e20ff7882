using Vib3.Convert;

namespace Vib3.Bench;

/// <summary>Tells when a conversion enters each phase (write, verify), to split its time.</summary>
internal sealed class PhaseClock(Action<string> entered) : IProgress<ConversionProgress>
{
    private string? _phase;

    public void Report(ConversionProgress value)
    {
        if (value.Phase == _phase) return;
        _phase = value.Phase;
        entered(value.Phase);
    }
}
