namespace Vib3.Models.Inference;

/// <summary>Sees hidden states as a forward pass computes them, for measurements that need the real ones (page keys
/// are judged against the router's true inputs). Given to the pass when it is created; called on the pass's thread,
/// and what it is handed is valid only during the call.</summary>
public interface IForwardObserver
{
    /// <summary>Layer <paramref name="layer"/>'s FFN input [dim] for one token: the normalised hidden state the router
    /// (and a retrieval query) reads. Tokens of a batched step come row by row within each layer.</summary>
    void FfnInput(int layer, ReadOnlySpan<float> input);
}
