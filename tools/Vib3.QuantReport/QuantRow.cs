namespace Vib3.QuantReport;

/// <summary>One engine's figures on one model: held-out perplexity, or why the engine could not run it.</summary>
internal sealed record EngineResult(double? Perplexity, string? Refused)
{
    public static EngineResult Of(double loss) => new(Math.Exp(loss), null);

    public string Show => Perplexity is { } p ? p.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture) : $"— ({Refused})";
}

/// <summary>A row of the table. <paramref name="BitsPerWeight"/>: page bytes × 8 over parameters of the model vib3
/// stored from llama.cpp's file; <paramref name="BytesPerToken"/>: weight bytes vib3 read (RAM or disk) per decoded
/// token; <paramref name="Vib3Written"/>: vib3's own quantisation of the source checkpoint, where vib3 writes the level.</summary>
internal sealed record QuantRow(string Level, long FileBytes, double? BitsPerWeight, long? BytesPerToken,
    EngineResult LlamaCpp, EngineResult Vib3OnLlamaCppFile, EngineResult? Vib3Written);
