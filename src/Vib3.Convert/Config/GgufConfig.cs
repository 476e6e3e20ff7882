using Vib3.Convert.Formats;
using Vib3.Core;

namespace Vib3.Convert.Config;

/// <summary>Hyper-parameters from a GGUF file's metadata.</summary>
public sealed class GgufConfig : IConfigSource
{
    private readonly GgufCheckpoint _file;

    public GgufConfig(GgufCheckpoint file)
    {
        _file = file;
    }

    public string Origin => _file.Path;

    public string? Architecture => _file.Architecture;

    public double? GetNumber(string key)
    {
        if (!_file.TryGet(key, out var v)) return null;
        if (v.Type == GgufValueType.Bool) return v.GetBool() ? 1 : 0;
        if (GgufValue.IsInteger(v.Type) || GgufValue.IsFloat(v.Type)) return v.GetFloat();
        if (v.IsArray && v.Count > 0 && (GgufValue.IsInteger(v.ElementType) || GgufValue.IsFloat(v.ElementType)))
            return v.GetFloatArray()[0];
        throw new Vib3Exception(SqlState.InvalidParameterValue, $"{Origin}: metadata '{key}' should be a number, found {v.TypeName}");
    }

    public string? GetText(string key) => _file.TryGetString(key, out var s) ? s : null;

    public int? ArrayLength(string key) => _file.TryGet(key, out var v) && v.IsArray ? v.Count : null;
}
