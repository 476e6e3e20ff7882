namespace Vib3.Convert.Config;

/// <summary>Where hyper-parameters come from: config.json of a HF folder, or a GGUF file's metadata.</summary>
public interface IConfigSource
{
    /// <summary>Names the origin in error messages, e.g. "/models/x/config.json".</summary>
    string Origin { get; }

    /// <summary>A number (bools read as 1/0; for an array of numbers, its first element), or null if absent.</summary>
    double? GetNumber(string key);

    /// <summary>A string value (e.g. scoring_func "sigmoid"), or null if absent.</summary>
    string? GetText(string key);

    /// <summary>Length of an array value, or null if absent.</summary>
    int? ArrayLength(string key);
}
