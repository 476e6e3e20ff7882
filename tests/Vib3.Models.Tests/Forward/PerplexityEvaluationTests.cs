using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>The perplexity evaluation: its windows worked by hand, and its figures against the retrieval study's own
/// way of computing them (every window decoded token by token from an empty cache, log-likelihoods, KL and top-1
/// agreement summed in the test): the same numbers, and the expert bytes a token reads under the router as the
/// manifest's page sizes give them.</summary>
public sealed class PerplexityEvaluationTests
{
    private static readonly PageStoreOptions Options = new() { RamBudgetBytes = 64 << 20 };

    [Fact]
    public void Windows_score_every_prediction_once()
    {
        // 10 tokens: 9 predictions. Windows of 4 every 2: the first scores its 4, each later one its last 2 (the last
        // one, cut at the text's end, its last 1).
        Assert.Equal([new(0, 4, 0), new(2, 6, 4), new(4, 8, 6), new(6, 9, 8)], PerplexityEvaluation.Windows(10, 4, 2));
        // stride = context: disjoint windows, the last one shorter.
        Assert.Equal([new(0, 4, 0), new(4, 8, 4), new(8, 9, 8)], PerplexityEvaluation.Windows(10, 4, 4));
        // Exactly one context's worth of predictions: one window.
        Assert.Equal([new PerplexityWindow(0, 9, 0)], PerplexityEvaluation.Windows(10, 9, 3));
    }

    [Theory]
    [InlineData(10, 10, 10, "the text is 10 tokens, too short for a context of 10: it needs at least 11 (use a shorter context)")]
    [InlineData(10, 4, 5, "the stride must be between 1 and the context (4), not 5")]
    [InlineData(10, 4, 0, "the stride must be between 1 and the context (4), not 0")]
    [InlineData(10, 0, 1, "the context must be at least 1 token, not 0")]
    [InlineData(1, 1, 1, "the text is 1 tokens, too short for a context of 1: it needs at least 2 (use a shorter context)")]
    public void Bad_windows_are_refused_with_one_line(int tokens, int context, int stride, string message)
    {
        var e = Assert.Throws<Vib3Exception>(() => PerplexityEvaluation.Windows(tokens, context, stride));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public async Task The_figures_equal_a_token_by_token_computation()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf");
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", Options);
        var forward = pass.Forward;
        var manifest = f.Manifest;
        var keys = await PageKeys.BuildAsync(pass.Weights, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct);
        var index = new PageIndex(keys, pass.Weights.ExpertGrids, "m");
        var retrieval = new RetrievalRouting(1);
        var router = new ScoredRouting(ForwardProgram.Build(manifest));
        var retrieved = new ScoredRouting(ForwardProgram.Build(manifest, retrieval), index);
        var tokens = ModelFixture.Tokens(23, f.Spec.Vocab);
        const int context = 8, stride = 5;

        var result = await PerplexityEvaluation.RunAsync(forward, tokens, context, stride, retrieved, router, KvCacheType.F32);

        double nll = 0, kl = 0;
        var agreed = 0;
        var scored = 0;
        foreach (var w in PerplexityEvaluation.Windows(tokens.Length, context, stride))
        {
            var (exact, cache) = (KvCache.For(forward.Hyper, context), KvCache.For(forward.Hyper, context));
            for (var t = w.Begin; t < w.End; t++)
            {
                var p = LogSoftmax(await forward.DecodeAsync(tokens[t], exact));
                var q = LogSoftmax(await forward.DecodeAsync(tokens[t], cache, retrieval, index));
                if (t < w.ScoreFrom) continue;
                nll -= q[tokens[t + 1]];
                kl += Enumerable.Range(0, p.Length).Sum(i => Math.Exp(p[i]) * (p[i] - q[i]));
                if (Array.IndexOf(p, p.Max()) == Array.IndexOf(q, q.Max())) agreed++;
                scored++;
            }
        }
        Assert.Equal(tokens.Length - 1, scored);
        Assert.Equal(scored, result.Tokens);
        Assert.Equal(4, result.Windows);
        Assert.Equal(nll / scored, result.MeanNll, 1e-4);
        Assert.Equal(kl / scored, result.Kl!.Value, 1e-4);
        Assert.Equal((double)agreed / scored, result.Top1Agreement!.Value);
        Assert.True(result.Kl > 0 && result.Top1Agreement < 1, $"one page a layer should route differently from the router's top-2: KL {result.Kl}, agreement {result.Top1Agreement}, bytes {result.ExpertBytesPerToken}");

        // Under the router each token reads its top-k experts' pages in every MoE layer.
        var exactRun = await PerplexityEvaluation.RunAsync(forward, tokens, context, stride, router, null, KvCacheType.F32);
        var perToken = pass.Weights.ExpertGrids.Values.Sum(g => (double)manifest.Hyper.TopK * g.BundlesPerExpert * g.BundleBytes(g.BundleRows));
        Assert.Equal(perToken, exactRun.ExpertBytesPerToken);
        Assert.Null(exactRun.Kl);
        Assert.True(result.ExpertBytesPerToken < perToken, "one page a layer reads less than the router's top-2");
    }

    private static double[] LogSoftmax(float[] logits)
    {
        var max = logits.Max();
        var lse = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
        return [.. logits.Select(l => l - lse)];
    }
}
