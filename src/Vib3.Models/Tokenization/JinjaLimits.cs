namespace Vib3.Models.Tokenization;

/// <summary>What one chat template may cost. A model folder is untrusted input: its template is parsed and rendered
/// inside the server, so nesting, loops, allocation, output and time are bounded here rather than by the stack, the
/// heap or the client's patience. A template that reaches any limit fails with a <see cref="JinjaException"/> whose
/// <see cref="JinjaException.LimitExceeded"/> is set, naming the limit and the template line. The defaults leave
/// every real chat template (a few KiB, a few levels deep, one loop over the conversation) far inside.</summary>
public sealed record JinjaLimits
{
    /// <summary>Template source length in characters; real templates are under 40 KiB.</summary>
    public const int DefaultMaxTemplateLength = 1 << 20;

    /// <summary>Nesting levels, parsing and rendering alike: blocks, sub-expressions (parentheses, operands of an
    /// operator chain, filters), macro calls, and the depth of lists and dicts being printed or compared, counted
    /// together. Python's own parser stops at 200 nested parentheses. Measured on a 1 MiB thread, the costliest
    /// shape (a parenthesis: a dozen parser frames) takes about 2 KiB of stack per level, a macro call under 1 KiB
    /// per level, so 200 levels need about 400 KiB: the limit, not a thread-pool thread's 1.5 MiB stack, decides
    /// (JinjaLimitsTests renders the deepest allowed nesting on a 1 MiB thread).</summary>
    public const int DefaultMaxDepth = 200;

    /// <summary>Loop iterations per render, all loops together (a for's "if" filter counts each item it tests).</summary>
    public const int DefaultMaxLoopIterations = 100_000;

    /// <summary>Bytes a render may produce, all values together: 2 per character of every new string (operators,
    /// filters, methods, printed output) and <see cref="EntryBytes"/> per entry of every new list or dict. Checked
    /// before allocating, so 'x' * 1000000000 or range(100000000) fail at once instead of exhausting memory.</summary>
    public const long DefaultMaxProducedBytes = 64L << 20;

    /// <summary>What one new list or dict entry counts towards <see cref="MaxProducedBytes"/> (reference plus box).</summary>
    public const int EntryBytes = 16;

    /// <summary>Rendered prompt length in characters (macro results too); 8 Mi characters is far beyond any
    /// model's context.</summary>
    public const int DefaultMaxOutputLength = 8 << 20;

    /// <summary>Wall-clock time per render; real renders take milliseconds.</summary>
    public static readonly TimeSpan DefaultMaxRenderTime = TimeSpan.FromSeconds(2);

    public static JinjaLimits Default { get; } = new();

    public int MaxTemplateLength { get; init; } = DefaultMaxTemplateLength;

    public int MaxDepth { get; init; } = DefaultMaxDepth;

    public int MaxLoopIterations { get; init; } = DefaultMaxLoopIterations;

    public long MaxProducedBytes { get; init; } = DefaultMaxProducedBytes;

    public int MaxOutputLength { get; init; } = DefaultMaxOutputLength;

    public TimeSpan MaxRenderTime { get; init; } = DefaultMaxRenderTime;
}
