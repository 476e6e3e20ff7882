using Vib3.Storage;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A server whose generations really run long: the model's budget holds two pages, so every page of every
/// token is read from disk again (tens of milliseconds a token here), and its context leaves room for
/// <see cref="LongGenerate"/> to run for a minute. Statements that cancel or time out stop a forward pass at work,
/// not a delay put in front of it.</summary>
public class SlowGenerationServerFixture : PgServerFixture
{
    /// <summary>Tokens a long GENERATE asks for: far more than any test waits for.</summary>
    public const int LongMaxTokens = 2000;

    /// <summary>Greedy, so it repeats: from this prompt this model never samples its end-of-generation token in
    /// <see cref="LongMaxTokens"/> tokens (a statement that ended early would end without the error the tests expect).</summary>
    public const string LongGenerate = "GENERATE 'slowly' FROM MODEL m MAX_TOKENS 2000 TEMPERATURE 0 STREAM";

    protected override int Context => 4096;

    protected override long RamBudget(int maxPageBytes) => PageStore.MinimumRamBudget(maxPageBytes) + 2L * maxPageBytes;

    /// <summary>Tokens the engine generated so far (all statements).</summary>
    public long GeneratedTokens => Engine.Generations.Stats().Sum(s => s.GeneratedTokens);
}
