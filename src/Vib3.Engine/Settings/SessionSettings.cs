using System.Collections.Concurrent;
using System.Globalization;
using Vib3.Query.Planning;

namespace Vib3.Engine.Settings;

/// <summary>One session's values of the registered parameters: what SET chose, else what the client sent when it
/// connected, else the default; RESET forgets only SET's, as PostgreSQL's does. Read by other sessions too
/// (vib3_sessions shows the model and application_name), so the values sit in concurrent maps.</summary>
internal sealed class SessionSettings(Vib3Engine engine)
{
    /// <summary>Where a value came from, as pg_settings.source words it.</summary>
    public const string FromDefault = "default";
    public const string FromSession = "session";
    public const string FromClient = "client";

    private readonly ConcurrentDictionary<string, string> _set = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, string> _fromClient = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>SET: checks <paramref name="value"/> against the parameter's rules and keeps what SHOW will print.</summary>
    public void Set(string name, string value) => Check(name, value, _set);

    /// <summary>A startup parameter of the connection: the value RESET returns to.</summary>
    public void SetFromClient(string name, string value) => Check(name, value, _fromClient);

    private void Check(string name, string value, ConcurrentDictionary<string, string> into)
    {
        var setting = SettingRegistry.Get(name);
        into[setting.Name] = setting.Check(value, engine);
    }

    public void Reset(string name) => _set.TryRemove(SettingRegistry.Get(name).Name, out _);

    public void ResetAll() => _set.Clear();

    public string Get(string name)
    {
        var setting = SettingRegistry.Get(name);
        return Current(setting).Value;
    }

    /// <summary>Every parameter: name, value, source (default / client / session), description.</summary>
    public IEnumerable<object?[]> All() => SettingRegistry.All.Select(s =>
    {
        var (value, source) = Current(s);
        return new object?[] { s.Name, value, source, s.Description };
    });

    private (string Value, string Source) Current(Setting s) =>
        _set.TryGetValue(s.Name, out var v) ? (v, FromSession)
        : _fromClient.TryGetValue(s.Name, out var c) ? (c, FromClient)
        : (s.Default, FromDefault);

    /// <summary>The model setting; null when none is chosen.</summary>
    public string? Model => Get(SettingRegistry.Model) is { Length: > 0 } m ? m : null;

    /// <summary>What a GENERATE uses for the sampling clauses it leaves out.</summary>
    public SamplingPlan Sampling => new(
        Real(SettingRegistry.Temperature), Real(SettingRegistry.TopP), (int)Integer(SettingRegistry.TopK), Real(SettingRegistry.MinP),
        Get(SettingRegistry.Seed) is var seed && seed == SettingRegistry.RandomSeed ? null : long.Parse(seed, CultureInfo.InvariantCulture),
        RepeatPenalty: Real(SettingRegistry.RepeatPenalty));

    public int MaxTokens => (int)Integer(SettingRegistry.MaxTokens);

    // Values were checked when set, so they parse.
    private double Real(string name) => double.Parse(Get(name), CultureInfo.InvariantCulture);

    private long Integer(string name) => long.Parse(Get(name), CultureInfo.InvariantCulture);
}
