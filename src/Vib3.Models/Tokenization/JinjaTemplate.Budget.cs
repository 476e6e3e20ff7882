using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>The counters that enforce <see cref="JinjaLimits"/> while a template is parsed and rendered.</summary>
public sealed partial class JinjaTemplate
{
    /// <summary>One nesting counter for everything that recurses on the stack (parser, evaluator, macro calls,
    /// printing and comparing nested values), so their depths add up as their stack frames do.</summary>
    private sealed class DepthGuard(int max)
    {
        public int Depth { get; private set; }

        /// <summary>The innermost macro being called, named by the error: deep nesting inside one is most likely
        /// a macro calling itself without end.</summary>
        public string? Macro { get; set; }

        /// <param name="what">what is nesting, for the message: the template's blocks and expressions, a macro call, a value</param>
        public void Enter(string what = "template")
        {
            if (Depth >= max)
                throw JinjaException.Limit($"{what} nested deeper than {max} levels (blocks, expressions, macro calls and values " +
                    "count together; JinjaLimits.MaxDepth)" + (Macro is null ? "" : $" inside macro '{Macro}' (unbounded recursion?)"));
            // MaxDepth is measured to fit a thread-pool thread's stack; this only guards a caller that was already deep
            if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
                throw JinjaException.Limit($"{what} nested {Depth} levels deep with too little stack left on this thread");
            Depth++;
        }

        public void Leave() => Depth--;

        /// <summary>Back to a depth saved before an operator chain, whose links each counted a level.</summary>
        public void Restore(int depth) => Depth = depth;
    }

    /// <summary>Per render: depth, loop iterations, bytes produced, output length, the deadline and the caller's
    /// cancellation. <see cref="Check"/> runs at every node and loop iteration, so a render stops promptly.</summary>
    private sealed class RenderBudget(JinjaLimits limits, CancellationToken ct)
    {
        private readonly long _deadline = Stopwatch.GetTimestamp() + (long)(limits.MaxRenderTime.TotalSeconds * Stopwatch.Frequency);
        private int _iterations;
        private long _produced;

        public DepthGuard Depth { get; } = new(limits.MaxDepth);

        public int MaxDepth => limits.MaxDepth;

        public void Check()
        {
            ct.ThrowIfCancellationRequested();
            if (Stopwatch.GetTimestamp() > _deadline)
                throw JinjaException.Limit($"rendering took longer than {limits.MaxRenderTime.TotalSeconds:0.###} s (JinjaLimits.MaxRenderTime)");
        }

        public void Iterate()
        {
            if (++_iterations > limits.MaxLoopIterations)
                throw JinjaException.Limit($"more than {limits.MaxLoopIterations} loop iterations in one render (JinjaLimits.MaxLoopIterations)");
            Check();
        }

        /// <summary>Counts a new string of <paramref name="chars"/> characters before it is allocated.</summary>
        public void Chars(Int128 chars, string what) => Produce(2 * chars, $"{what} of {chars} characters");

        /// <summary>Counts a new list or dict of <paramref name="entries"/> entries before it is allocated.</summary>
        public void Entries(Int128 entries, string what) => Produce(JinjaLimits.EntryBytes * entries, $"{what} of {entries} items");

        /// <summary>Sizes arrive in 128 bits: a count times a length is checked before it can overflow.</summary>
        private void Produce(Int128 bytes, string what)
        {
            if (bytes > limits.MaxProducedBytes - _produced)
                throw JinjaException.Limit($"{what} would take the render past {limits.MaxProducedBytes >> 20} MiB of produced values " +
                    $"({_produced >> 20} MiB so far; JinjaLimits.MaxProducedBytes)");
            _produced += (long)Int128.Max(0, bytes);
        }

        /// <summary>Appends rendered text, keeping the output within <see cref="JinjaLimits.MaxOutputLength"/>.</summary>
        public void Write(StringBuilder sb, string text)
        {
            if (text.Length > limits.MaxOutputLength - sb.Length)
                throw JinjaException.Limit($"output longer than {limits.MaxOutputLength} characters (JinjaLimits.MaxOutputLength)");
            Chars(text.Length, "output");
            sb.Append(text);
        }
    }
}
