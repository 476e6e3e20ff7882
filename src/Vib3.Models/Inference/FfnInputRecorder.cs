using System.Numerics.Tensors;

namespace Vib3.Models.Inference;

/// <summary>Keeps every layer's FFN inputs, in token order, optionally scaled to unit length (as the page index
/// searches with them).</summary>
public sealed class FfnInputRecorder(bool normalize) : IForwardObserver
{
    private readonly Dictionary<int, List<float[]>> _inputs = [];

    /// <summary>Per layer: [tokens][dim].</summary>
    public IReadOnlyDictionary<int, List<float[]>> Inputs => _inputs;

    public void FfnInput(int layer, ReadOnlySpan<float> input)
    {
        var copy = input.ToArray();
        if (normalize) TensorPrimitives.Divide(copy, TensorPrimitives.Norm(copy), copy);
        if (!_inputs.TryGetValue(layer, out var list)) _inputs[layer] = list = [];
        list.Add(copy);
    }
}
