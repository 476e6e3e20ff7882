namespace Vib3.Models.Inference;

/// <summary>Sees hidden states as a forward pass computes them, for measurements that need the real ones (page keys
/// are judged against the router's true inputs; a neuron layout is calibrated on the experts' true activations). Given
/// to the pass when it is created; called on the pass's thread, and what it is handed is valid only during the call.</summary>
public interface IForwardObserver
{
    /// <summary>Layer <paramref name="layer"/>'s FFN input [dim] for one token: the normalised hidden state the router
    /// (and a retrieval query) reads. Tokens of a batched step come row by row within each layer.</summary>
    void FfnInput(int layer, ReadOnlySpan<float> input);

    /// <summary>The residual stream [dim] the layer's FFN output is added to, for the same token: called just before
    /// its <see cref="FfnInput"/>.</summary>
    void FfnResidual(int layer, ReadOnlySpan<float> residual) { }

    /// <summary>The router's choice for step row <paramref name="row"/> of layer <paramref name="layer"/>: its experts and
    /// their weights (after the family's renormalisation), after the layer's FFN inputs and before its experts run.
    /// Rows routed by key-only retrieval are not seen.</summary>
    void Routed(int layer, int row, ReadOnlySpan<int> experts, ReadOnlySpan<float> weights) { }

    /// <summary>True when the observer wants <see cref="ExpertHidden"/>: the pass then keeps each expert page's
    /// activations of a step for it (a copy per page and row), which costs time no other caller should pay.</summary>
    bool ObservesExperts => false;

    /// <summary>One expert page's hidden activations silu(W_gate[rows]·x) ⊙ (W_up[rows]·x) [r] for step row
    /// <paramref name="row"/>: neurons [<paramref name="firstNeuron"/>, firstNeuron + r) of expert
    /// <paramref name="expert"/> of layer <paramref name="layer"/>, as stored. Every page of a layer's Experts operator
    /// that ran on the CPU, in page order, after the layer's FFN input and before the next layer's; pages run on the
    /// device are not seen.</summary>
    void ExpertHidden(int layer, int expert, int firstNeuron, int row, ReadOnlySpan<float> hidden) { }

    /// <summary>The same page's output W_down[:, rows] · hidden [dim] for that row, before its routing weight: what
    /// the page adds to the expert's output. Called right after <see cref="ExpertHidden"/> for the page and row.</summary>
    void ExpertOutput(int layer, int expert, int firstNeuron, int row, ReadOnlySpan<float> output) { }
}
