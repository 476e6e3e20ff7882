using System.Collections.Concurrent;
using System.Globalization;
using Vib3.Query.Planning;

namespace Vib3.Engine.Settings;

/// <summary>One session's values of the registered parameters: what SET chose, else the default. Read by other
/// sessions too (vib3_sessions shows the model and application_name), so the values sit in a concurrent map.</summary>
internal sealed class SessionSettings(Vib3Engine engine)
{
    /// <summary>Where a value came from, as pg_settings.source words it.</summary>
    public const string FromDefault = "default";
    public const string FromSession = "session";
    public const string FromClient = "client";

    private readonly ConcurrentDictionary<string, (string Value, string Source)> _set = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Checks <paramref name="value"/> against the parameter's rules and keeps what SHOW will print.
    /// <paramref name="source"/>: SET's <see cref="FromSession"/>, or <see cref="FromClient"/> for a connection's
    /// startup parameter.</summary>
    public void Set(string name, string value, string source = FromSession)
    {
        var setting = SettingRegistry.Get(name);
        _set[setting.Name] = (setting.Check(value, engine), source);
    }

    public void Reset(string name) => _set.TryRemove(SettingRegistry.Get(name).Name, out _);

    public void ResetAll() => _set.Clear();

    public string Get(string name)
    {
        var setting = SettingRegistry.Get(name);
        return _set.TryGetValue(setting.Name, out var v) ? v.Value : setting.Default;
    }

    /// <summary>Every parameter: name, value, source (default / client / session), description.</summary>
    public IEnumerable<object?[]> All() => SettingRegistry.All.Select(s => _set.TryGetValue(s.Name, out var v)
        ? new object?[] { s.Name, v.Value, v.Source, s.Description }
        : new object?[] { s.Name, s.Default, FromDefault, s.Description });

    /// <summary>The model setting; null when none is chosen.</summary>
    public string? Model => Get(SettingRegistry.Model) is { Length: > 0 } m ? m : null;

    /// <summary>What a GENERATE uses for the sampling clauses it leaves out.</summary>
    public SamplingPlan Sampling => new(
        Real(SettingRegistry.Temperature), Real(SettingRegistry.TopP), (int)Integer(SettingRegistry.TopK), Real(SettingRegistry.MinP),
        Get(SettingRegistry.Seed) is var seed && seed == SettingRegistry.RandomSeed ? null : long.Parse(seed, CultureInfo.InvariantCulture));

    public int MaxTokens => (int)Integer(SettingRegistry.MaxTokens);

    // Values were checked when set, so they parse.
    private double Real(string name) => double.Parse(Get(name), CultureInfo.InvariantCulture);

    private long Integer(string name) => long.Parse(Get(name), CultureInfo.InvariantCulture);
}
