namespace Vib3.Kernels.Tests;

public class GroupedRouterTests
{
    private static float Sig(float x) => 1f / (1f + MathF.Exp(-x));

    private static (int[] Idx, float[] W) Run(float[] logits, float[]? bias, int k, int groups = 1, int used = 0,
        ExpertGating gating = ExpertGating.Sigmoid, bool normalize = false, float scale = 1f)
    {
        var idx = new int[k];
        var w = new float[k];
        var scratch = new float[GroupedRouter.ScratchLength(logits.Length, groups)];
        GroupedRouter.Route(logits, bias, gating, groups, used, k, normalize, scale, idx, w, scratch);
        // Every hand-computed case also holds for the oracle.
        var ri = new int[k];
        var rw = new float[k];
        GroupedRouter.Reference(logits, bias, gating, groups, used, k, normalize, scale, ri, rw);
        Assert.Equal(ri, idx);
        AssertBits(rw, w, "reference vs fast");
        return (idx, w);
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    private static void Close(float[] expected, float[] actual, float tol = 1e-6f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tol, $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void NoGroupsNoBias_IsPlainSigmoidTopK()
    {
        var (idx, w) = Run([0f, 2f, -1f, 1f], null, 2);
        Assert.Equal([1, 3], idx);
        Close([0.880797f, 0.731059f], w);
        Assert.Equal(Sig(2f), w[0]);
    }

    [Fact]
    public void Bias_ChangesSelectionButNotWeights()
    {
        // Selection: 0.5, 0.881, 0.269 + 0.5 = 0.769, 0.731 → experts 1 then 2; weights stay unbiased.
        var (idx, w) = Run([0f, 2f, -1f, 1f], [0f, 0f, 0.5f, 0f], 2);
        Assert.Equal([1, 2], idx);
        Assert.Equal([Sig(2f), Sig(-1f)], w);
        Close([0.880797f, 0.268941f], w);
    }

    [Fact]
    public void Groups_MaskGroupWithGlobalBestExpertWhenItsTop2SumLoses()
    {
        // 3 groups of 3. Group 0 has the global best (σ(4) = 0.982) but top-2 sum 0.982 + 0.018 = 1.000;
        // group 1: 0.731 + 0.731 = 1.462; group 2: 0.881 + 0.622 = 1.503. Keep 2 groups → {2, 1}.
        float[] logits = [4f, -4f, -4f, 1f, 1f, -4f, 2f, 0.5f, -4f];
        var (idx, w) = Run(logits, null, 2, groups: 3, used: 2);
        Assert.Equal([6, 3], idx); // experts 3 and 4 tie at σ(1): the lower index wins
        Assert.Equal([Sig(2f), Sig(1f)], w);

        // Ungrouped, the global best is picked.
        Assert.Equal([0, 6], Run(logits, null, 2).Idx);
        // With every group kept the mask is a no-op.
        Assert.Equal([0, 6], Run(logits, null, 2, groups: 3, used: 3).Idx);
    }

    [Fact]
    public void Groups_ScoreUsesBiasedValues()
    {
        // Same logits; a bias of +0.6 on expert 1 lifts group 0's top-2 sum to 0.982 + 0.618 = 1.600 > 1.503.
        float[] logits = [4f, -4f, -4f, 1f, 1f, -4f, 2f, 0.5f, -4f];
        var bias = new float[9];
        bias[1] = 0.6f;
        var (idx, w) = Run(logits, bias, 3, groups: 3, used: 2);
        // Groups {0, 2}; eligible selection 0.982, 0.618, 0.018 | 0.881, 0.622, 0.018 → experts 0, 6, 7.
        Assert.Equal([0, 6, 7], idx);
        Assert.Equal([Sig(4f), Sig(2f), Sig(0.5f)], w);
    }

    [Fact]
    public void NormaliseThenScale()
    {
        var (idx, w) = Run([0f, 2f, -1f, 1f], null, 2, normalize: true, scale: 2.5f);
        Assert.Equal([1, 3], idx);
        var s = Sig(2f) + Sig(1f);
        Assert.Equal([Sig(2f) / s * 2.5f, Sig(1f) / s * 2.5f], w);
        Close([0.880797f / 1.611856f * 2.5f, 0.731059f / 1.611856f * 2.5f], w, 1e-5f);

        // Scale alone (no normalisation), and scale 0 = unset.
        Assert.Equal([Sig(2f) * 2.5f, Sig(1f) * 2.5f], Run([0f, 2f, -1f, 1f], null, 2, scale: 2.5f).W);
        Assert.Equal([Sig(2f), Sig(1f)], Run([0f, 2f, -1f, 1f], null, 2, scale: 0f).W);
    }

    [Fact]
    public void Normalise_ClampsTinySumToEpsilon()
    {
        // σ(-80) ≈ 1.8e-35: the sum is below 6.103515625e-5, so each weight is divided by the epsilon instead.
        var (_, w) = Run([-80f, -80f, -81f], null, 2, normalize: true);
        var p = Sig(-80f);
        Assert.True(p > 0 && 2 * p < GroupedRouter.NormEpsilon);
        Assert.Equal([p / 6.103515625e-5f, p / 6.103515625e-5f], w);
    }

    [Fact]
    public void SoftmaxGating()
    {
        float[] logits = [1f, 2f, 3f, 0f];
        var e = new[] { MathF.E, MathF.E * MathF.E, MathF.E * MathF.E * MathF.E, 1f };
        var s = e.Sum();
        var (idx, w) = Run(logits, null, 2, gating: ExpertGating.Softmax);
        Assert.Equal([2, 1], idx);
        Close([e[2] / s, e[1] / s], w);
        Close([0.643914f, 0.236883f], w);

        var (idx2, w2) = Run(logits, null, 2, gating: ExpertGating.Softmax, normalize: true);
        Assert.Equal([2, 1], idx2);
        Close([e[2] / (e[2] + e[1]), e[1] / (e[2] + e[1])], w2);

        // Bias on softmax scores: selection only.
        var (idx3, w3) = Run(logits, [0f, 0f, 0f, 0.7f], 2, gating: ExpertGating.Softmax);
        Assert.Equal([3, 2], idx3); // 0.032 + 0.7 > 0.644 > 0.237
        Close([e[3] / s, e[2] / s], w3);
    }

    [Fact]
    public void Ties_LowerIndexFirst()
    {
        Assert.Equal([0, 1, 2], Run([0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f], null, 3).Idx);
        // Tied groups too: groups 0 and 1 are kept.
        Assert.Equal([0, 1, 2], Run(new float[8], null, 3, groups: 4, used: 2).Idx);
        // Groups 0 and 1 tie (σ1 + σ0 = 1.231) and beat group 2 (σ2 + σ-1 = 1.150); then experts 0 and 2 tie.
        Assert.Equal([0, 2, 1], Run([1f, 0f, 1f, 0f, 2f, -1f], null, 3, groups: 3, used: 2).Idx);
        // Tied groups with only one to keep: the lower group index wins.
        Assert.Equal([0, 1], Run([1f, 0f, 1f, 0f, 2f, -1f], null, 2, groups: 3, used: 1).Idx);
    }

    [Fact]
    public void NaN_SortsLast()
    {
        var (idx, _) = Run([float.NaN, 1f, 0f], null, 3);
        Assert.Equal([1, 2, 0], idx);
        // A NaN inside a group is skipped by its top-2 (group 0: σ1 + σ0.5 = 1.353 beats σ-1 + σ-2 = 0.388).
        var (gi, _) = Run([float.NaN, 1f, 0.5f, -1f, -2f, -3f], null, 2, groups: 2, used: 1);
        Assert.Equal([1, 2], gi);
    }

    [Fact]
    public void KEqualsExperts()
    {
        float[] logits = [0.3f, -1f, 2f, 0.3f, 5f, -2f];
        var (idx, w) = Run(logits, null, 6, normalize: true);
        Assert.Equal([4, 2, 0, 3, 1, 5], idx);
        Assert.Equal(1f, w.Sum(), 1e-6f);
        // Grouped, with every group used: k may be all experts.
        Assert.Equal([4, 2, 0, 3, 1, 5], Run(logits, null, 6, groups: 3, used: 3).Idx);
        // Grouped, k = every eligible expert: the kept groups' experts, best first.
        Assert.Equal([4, 2, 3, 5], Run(logits, null, 4, groups: 3, used: 2).Idx);
    }

    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 384, 8, 4, 8 }, // Kimi K2 (as the brief sizes it)
        { 256, 8, 4, 8 }, // DeepSeek-V3
        { 384, 1, 1, 8 }, // Kimi K2 as shipped (n_group 1)
        { 160, 1, 0, 6 }, // DeepSeek-V2 (no groups)
        { 64, 8, 3, 6 },
        { 64, 4, 2, 32 },
        { 16, 4, 1, 4 },
        { 12, 3, 3, 12 },
        { 10, 5, 2, 4 },
        { 8, 2, 1, 1 },
        { 8, 4, 4, 8 },
        { 2, 1, 0, 1 },
        { 2, 1, 0, 2 },
        { 6, 3, 1, 2 },
        { 7, 0, 0, 7 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FastEqualsReference_Random(int experts, int groups, int used, int k)
    {
        var rng = new Random(experts * 1000 + groups * 100 + used * 10 + k);
        var scratch = new float[GroupedRouter.ScratchLength(experts, groups)];
        var idx = new int[k];
        var w = new float[k];
        var ri = new int[k];
        var rw = new float[k];
        for (var trial = 0; trial < 200; trial++)
        {
            var logits = TestData.Floats(rng, experts, 4f);
            // Sometimes quantise to force ties, sometimes sprinkle NaN.
            if (trial % 5 == 1) for (var i = 0; i < experts; i++) logits[i] = MathF.Round(logits[i]);
            if (trial % 7 == 3) logits[rng.Next(experts)] = float.NaN;
            var bias = trial % 3 == 0 ? null : TestData.Floats(rng, experts, 0.3f);
            var gating = trial % 4 == 2 ? ExpertGating.Softmax : ExpertGating.Sigmoid;
            var normalize = trial % 2 == 0;
            var scale = trial % 6 < 3 ? 2.5f : 1f;
            scratch.AsSpan().Fill(float.NaN); // stale scratch must not matter
            GroupedRouter.Route(logits, bias, gating, groups, used, k, normalize, scale, idx, w, scratch);
            GroupedRouter.Reference(logits, bias, gating, groups, used, k, normalize, scale, ri, rw);
            Assert.Equal(ri, idx);
            AssertBits(rw, w, $"experts={experts} groups={groups} used={used} k={k} trial={trial}");
            Assert.Equal(k, idx.Distinct().Count());
            if (groups > 1)
            {
                var per = experts / groups;
                Assert.True(idx.Select(i => i / per).Distinct().Count() <= used);
            }
        }
    }

    [Fact]
    public void Route_DoesNotAllocate()
    {
        var rng = new Random(9);
        var logits = TestData.Floats(rng, 256, 4f);
        var bias = TestData.Floats(rng, 256, 0.3f);
        var scratch = new float[GroupedRouter.ScratchLength(256, 8)];
        var idx = new int[8];
        var w = new float[8];
        GroupedRouter.Route(logits, bias, ExpertGating.Sigmoid, 8, 4, 8, true, 2.5f, idx, w, scratch);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
            GroupedRouter.Route(logits, bias, ExpertGating.Sigmoid, 8, 4, 8, true, 2.5f, idx, w, scratch);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static string ParamOf(Action a) => Assert.ThrowsAny<ArgumentException>(a).ParamName!;

    [Fact]
    public void Validation_NamesTheArgument()
    {
        var logits = new float[256];
        var idx = new int[256];
        var w = new float[256];
        var scratch = new float[GroupedRouter.ScratchLength(256, 8)];
        void Go(int groups, int used, int k, float[]? bias = null, float[]? s = null, float[]? l = null,
            ExpertGating g = ExpertGating.Sigmoid) =>
            GroupedRouter.Route(l ?? logits, bias, g, groups, used, k, true, 1f, idx, w, s ?? scratch);

        Assert.Equal("k", ParamOf(() => Go(8, 4, 129)));     // only 4 × 32 = 128 eligible
        Assert.Equal("k", ParamOf(() => Go(1, 0, 257)));
        Assert.Equal("k", ParamOf(() => Go(1, 0, -1)));
        Assert.Equal("groups", ParamOf(() => Go(3, 1, 8)));  // 3 does not divide 256
        Assert.Equal("groups", ParamOf(() => Go(256, 1, 1))); // one expert per group: no top-2
        Assert.Equal("groups", ParamOf(() => Go(-1, 1, 1)));
        Assert.Equal("groupsUsed", ParamOf(() => Go(8, 9, 8)));
        Assert.Equal("groupsUsed", ParamOf(() => Go(8, 0, 8)));
        Assert.Equal("bias", ParamOf(() => Go(8, 4, 8, bias: new float[255])));
        Assert.Equal("scratch", ParamOf(() => Go(8, 4, 8, s: new float[256])));
        Assert.Equal("logits", ParamOf(() => Go(1, 0, 0, l: [])));
        Assert.Equal("gating", ParamOf(() => Go(8, 4, 8, g: (ExpertGating)3)));
        Assert.Equal("indices", ParamOf(() =>
            GroupedRouter.Route(logits, null, ExpertGating.Sigmoid, 8, 4, 8, true, 1f, new int[7], w, scratch)));
        Assert.Equal("weights", ParamOf(() =>
            GroupedRouter.Route(logits, null, ExpertGating.Sigmoid, 8, 4, 8, true, 1f, idx, new float[7], scratch)));
        Assert.Equal("k", ParamOf(() =>
            GroupedRouter.Reference(logits, null, ExpertGating.Sigmoid, 8, 4, 129, true, 1f, idx, w)));
        Assert.Equal("groups", ParamOf(() =>
            GroupedRouter.Reference(logits, null, ExpertGating.Sigmoid, 3, 1, 8, true, 1f, idx, w)));
        Assert.Equal("groupsUsed", ParamOf(() =>
            GroupedRouter.Reference(logits, null, ExpertGating.Sigmoid, 8, 9, 8, true, 1f, idx, w)));
    }
}
