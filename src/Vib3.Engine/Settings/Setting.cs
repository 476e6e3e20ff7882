namespace Vib3.Engine.Settings;

/// <summary>One configuration parameter, as PostgreSQL's GUCs: its name, what it does, its default (as SHOW prints it)
/// and how a SET value is checked. <paramref name="Check"/> returns the value as SHOW will print it, or throws (22023
/// naming the parameter and what it accepts; 42704 for a model that does not exist).</summary>
internal sealed record Setting(string Name, string Description, string Default, Func<string, Vib3Engine, string> Check);
