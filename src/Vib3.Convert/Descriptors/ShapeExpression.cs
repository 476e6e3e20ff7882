using System.Globalization;
using Vib3.Core;

namespace Vib3.Convert.Descriptors;

/// <summary>Evaluates the small expressions descriptors use for shapes and defaults: products and one
/// division of hyper-parameter names and integer literals ("heads*headDim", "dim/heads", "1024").</summary>
public static class ShapeExpression
{
    public static double Evaluate(string expression, Func<string, double?> lookup)
    {
        var divide = expression.Split('/');
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
