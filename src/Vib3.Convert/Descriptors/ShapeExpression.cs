using System.Globalization;
using Vib3.Core;

namespace Vib3.Convert.Descriptors;

/// <summary>Evaluates the small expressions descriptors use for shapes and defaults: sums and differences of
/// terms, each a product with at most one division, over hyper-parameter names and literals ("heads*headDim",
/// "dim/heads", "1024", "kvLoraRank+qkRopeHeadDim", "qkHeadDim-qkRopeHeadDim").</summary>
public static class ShapeExpression
{
    public static double Evaluate(string expression, Func<string, double?> lookup)
    {
        double sum = 0;
        var sign = 1;
        var start = 0;
        for (var i = 0; i <= expression.Length; i++)
        {
            if (i < expression.Length && expression[i] is not ('+' or '-')) continue;
            sum += sign * Term(expression[start..i], lookup, expression);
            if (i < expression.Length) sign = expression[i] == '+' ? 1 : -1;
            start = i + 1;
        }
        return sum;
    }

    private static double Term(string term, Func<string, double?> lookup, string expression)
    {
        if (term.Trim().Length == 0) throw Bad(expression);
        var divide = term.Split('/');
        if (divide.Length > 2) throw Bad(expression);
        var value = Product(divide[0], lookup, expression);
        if (divide.Length == 2)
        {
            var denominator = Product(divide[1], lookup, expression);
            if (denominator == 0) throw Bad(expression);
            value /= denominator;
        }
        return value;
    }

    private static double Product(string part, Func<string, double?> lookup, string whole)
    {
        double value = 1;
        foreach (var raw in part.Split('*'))
        {
            var term = raw.Trim();
            if (double.TryParse(term, NumberStyles.Float, CultureInfo.InvariantCulture, out var literal))
                value *= literal;
            else
                value *= lookup(term) ?? throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"hyper-parameter '{term}' (needed by '{whole}') is not known");
        }
        return value;
    }

    private static Vib3Exception Bad(string expression) =>
        new(SqlState.InvalidParameterValue, $"bad descriptor expression '{expression}'");
}
