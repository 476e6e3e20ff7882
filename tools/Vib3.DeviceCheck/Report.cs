using System.Text.Json;
using System.Text.Json.Nodes;

namespace Vib3.DeviceCheck;

/// <summary>What the check found: each line printed as it comes, and every figure in <paramref name="path"/>'s JSON,
/// rewritten after each result (the run may be cut short). A failed comparison marks the run failed (exit code 1)
/// without stopping it.</summary>
internal sealed class Report(string path)
{
    private readonly JsonObject _root = new();

    public bool Failed { get; private set; }

    public void Line(string text) => Console.WriteLine(text);

    /// <summary>Adds a result to section <paramref name="section"/>; <paramref name="ok"/> false marks the run failed.</summary>
    public void Add(string section, JsonObject result, bool ok = true)
    {
        if (!ok) Failed = true;
        result["ok"] = ok;
        if (_root[section] is not JsonArray list) _root[section] = list = [];
        list.Add(result);
        Write();
    }

    public void Set(string key, JsonNode? value) => _root[key] = value;

    public void Fail(string section, string what, Exception e)
    {
        Line($"  {what}: FAILED: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
        Add(section, new JsonObject { ["case"] = what, ["error"] = $"{e.GetType().Name}: {e.Message}" }, ok: false);
    }

    public void Write() => File.WriteAllText(path, _root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}
