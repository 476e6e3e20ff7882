using System.Globalization;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>The checks <see cref="ManifestValidator"/> makes of single values, each failing with one line that names
/// the field by its path in manifest.json.</summary>
internal sealed class ManifestChecker(string model)
{
    public Vib3Exception Fail(string what) => ManifestValidator.Corrupt(model, what);

    public void AtLeast(string field, long value, long min)
    {
        if (value < min) throw Fail($"{field} is {value}, must be at least {min}");
    }

    public void Between(string field, long value, long min, long max, string? maxName = null)
    {
        if (value < min || value > max)
            throw Fail($"{field} is {value}, must be between {min} and {(maxName is null ? "" : maxName + " = ")}{max}");
    }

    public void Positive(string field, double value)
    {
        if (!(value > 0) || !double.IsFinite(value)) throw Fail($"{field} is {Show(value)}, must be a positive number");
    }

    public void NonNegative(string field, double value)
    {
        if (!(value >= 0) || !double.IsFinite(value)) throw Fail($"{field} is {Show(value)}, must be zero or a positive number");
    }

    public void OneOf(string field, string? value, params string?[] allowed)
    {
        if (!allowed.Contains(value))
            throw Fail($"{field} is {Quote(value)}, must be one of {string.Join(", ", allowed.Select(Quote))}");
    }

    public void NotEmpty(string field, string value)
    {
        if (string.IsNullOrWhiteSpace(value)) throw Fail($"{field} is empty");
    }

    public DType DType(string field, string value) =>
        DTypes.TryParse(value, out var t) ? t : throw Fail($"{field} is {Quote(value)}, not a dtype vib3 stores ({string.Join(", ", DTypes.All.Select(t => t.Name()))})");

    public static string Quote(string? s) => s is null ? "null" : $"'{s}'";

    private static string Show(double v) => v.ToString(CultureInfo.InvariantCulture);
}
