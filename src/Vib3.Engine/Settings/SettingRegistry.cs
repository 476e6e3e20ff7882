using System.Globalization;
using Vib3.Core;
using Vib3.Query.Planning;

namespace Vib3.Engine.Settings;

/// <summary>Every parameter SET, SHOW and RESET know, in one place: the session's defaults for GENERATE, and the
/// ones Postgres drivers send (psql, Npgsql, JDBC) that vib3 accepts for them. Any other name is refused with 42704,
/// as PostgreSQL refuses it.</summary>
internal static class SettingRegistry
{
    public const string Model = "model";
    public const string Temperature = "temperature";
    public const string TopP = "top_p";
    public const string TopK = "top_k";
    public const string MinP = "min_p";
    public const string RepeatPenalty = "repeat_penalty";
    public const string MaxTokens = "max_tokens";
    public const string Seed = "seed";
    public const string ApplicationName = "application_name";

    /// <summary>The seed setting's value when no seed is fixed.</summary>
    public const string RandomSeed = "random";

    /// <summary>Longest text a free-text parameter keeps, as PostgreSQL's NAMEDATALEN - 1 for application_name.</summary>
    public const int MaxTextChars = 63;

    private static readonly SamplingPlan BuiltIn = PlannerContext.BuiltInSampling;

    /// <summary>By name, in the order SHOW ALL lists them.</summary>
    public static readonly IReadOnlyList<Setting> All = new[]
    {
        FreeText(ApplicationName, "The client's name, shown in vib3_sessions (drivers set it).", ""),
        new Setting("client_encoding", "The client's character set; vib3 speaks UTF8 only.", "UTF8",
            (v, _) => v.Replace("-", "").ToUpperInvariant() is "UTF8" or "UNICODE" ? "UTF8" : throw Invalid("client_encoding", v, "UTF8")),
        FreeText("DateStyle", "Accepted for drivers; vib3 has no date types.", "ISO, MDY"),
        Integer("extra_float_digits", "Accepted for drivers; vib3 always sends floats in their shortest exact form.", 1, -15, 3),
        OneOf("IntervalStyle", "Accepted for drivers; vib3 has no interval type.", "postgres", "postgres_verbose", "sql_standard", "iso_8601"),
        Integer(MaxTokens, "Tokens a GENERATE produces at most when it has no MAX_TOKENS clause.",
            PlannerContext.BuiltInMaxTokens, 1, int.MaxValue),
        Number(MinP, "Default MIN_P of GENERATE: drop tokens less likely than min_p times the likeliest (0 is off).",
            BuiltIn.MinP, 0, 1, lowOpen: false),
        new Setting(Model, "The model GENERATE uses when it has no FROM MODEL clause (USE MODEL sets it).", "",
            (v, engine) => v.Length == 0 || engine.Catalog.Exists(v) ? v
                : throw new Vib3Exception(SqlState.UndefinedObject, $"model \"{v}\" does not exist")),
        Number(RepeatPenalty, "Default REPEAT_PENALTY of GENERATE: a token among the last 64 has its logit divided (positive) or multiplied (negative) by it (1 is off).",
            BuiltIn.RepeatPenalty, 0, double.PositiveInfinity, lowOpen: true),
        new Setting(Seed, "Default SEED of GENERATE: an integer >= 0 makes sampling repeatable; 'random' draws one per statement.",
            RandomSeed, (v, _) => v.Equals(RandomSeed, StringComparison.OrdinalIgnoreCase) ? RandomSeed
                : long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? Text(n)
                : throw Invalid(Seed, v, $"an integer from 0 to {long.MaxValue}, or '{RandomSeed}'")),
        Number(Temperature, "Default TEMPERATURE of GENERATE: 0 is greedy decoding, higher samples more freely.",
            BuiltIn.Temperature, 0, double.PositiveInfinity, lowOpen: false),
        FreeText("TimeZone", "Accepted for drivers; vib3 has no time types.", "UTC"),
        Integer(TopK, "Default TOP_K of GENERATE: sample among the k likeliest tokens (0 is off).", BuiltIn.TopK, 0, int.MaxValue),
        Number(TopP, "Default TOP_P of GENERATE: sample among the likeliest tokens whose probabilities sum to top_p.",
            BuiltIn.TopP, 0, 1, lowOpen: true),
    };

    private static readonly Dictionary<string, Setting> ByName = All.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The parameter called <paramref name="name"/> (any case), or 42704 as PostgreSQL words it.</summary>
    public static Setting Get(string name) => ByName.GetValueOrDefault(name)
        ?? throw new Vib3Exception(SqlState.UndefinedObject, $"unrecognized configuration parameter \"{name}\"");

    /// <summary>22023 <c>invalid value for parameter "name": "value" (accepted: ...)</c>.</summary>
    private static Vib3Exception Invalid(string name, string value, string accepted) =>
        new(SqlState.InvalidParameterValue, $"invalid value for parameter \"{name}\": \"{value}\" (accepted: {accepted})");

    private static Setting FreeText(string name, string description, string fallback) => new(name, description, fallback,
        (v, _) => v.Length <= MaxTextChars ? v : throw Invalid(name, v[..MaxTextChars] + "...", $"at most {MaxTextChars} characters"));

    private static Setting OneOf(string name, string description, params string[] accepted) => new(name, description, accepted[0],
        (v, _) => accepted.FirstOrDefault(a => a.Equals(v, StringComparison.OrdinalIgnoreCase))
                  ?? throw Invalid(name, v, string.Join(", ", accepted)));

    private static Setting Integer(string name, string description, long fallback, long min, long max) => new(name, description, Text(fallback),
        (v, _) => long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max ? Text(n)
            : throw Invalid(name, v, $"an integer from {Text(min)} to {Text(max)}"));

    private static Setting Number(string name, string description, double fallback, double min, double max, bool lowOpen) =>
        new(name, description, Text(fallback),
            (v, _) => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x)
                      && (lowOpen ? x > min : x >= min) && x <= max ? Text(x)
                : throw Invalid(name, v, double.IsPositiveInfinity(max)
                    ? $"a number {(lowOpen ? ">" : ">=")} {Text(min)}"
                    : $"a number {(lowOpen ? "above" : "from")} {Text(min)} to {Text(max)}"));

    private static string Text(double v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Text(long v) => v.ToString(CultureInfo.InvariantCulture);
}
