using System.Buffers.Binary;
using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>The parts of SentencePiece's ModelProto (sentencepiece_model.proto) vib3 reads and writes, in the
/// protobuf wire format: pieces (1: piece, 2: score, 3: type), TrainerSpec (3 model_type, 24
/// treat_whitespace_as_suffix, 35 byte_fallback, 40–43 unk/bos/eos/pad ids) and NormalizerSpec (1 name,
/// 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5 escape_whitespaces). Written to give Microsoft.ML.Tokenizers'
/// SentencePieceTokenizer a model built from GGUF metadata or a tokenizer.json; read to learn piece types.</summary>
public sealed class SentencePieceModelProto
{
    /// <summary>SentencePiece.Type (identical to llama.cpp's token types).</summary>
    public const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    /// <summary>TrainerSpec.ModelType.</summary>
    public const int Unigram = 1, Bpe = 2;

    public List<(string Piece, float Score, int Type)> Pieces { get; } = [];
    public int ModelType { get; set; } = Unigram;
    public bool ByteFallback { get; set; }
    public bool TreatWhitespaceAsSuffix { get; set; }
    public int UnkId { get; set; }
    public int BosId { get; set; } = 1;
    public int EosId { get; set; } = 2;
    public int PadId { get; set; } = -1;
    public string NormalizerName { get; set; } = "identity";
    public bool AddDummyPrefix { get; set; } = true;
    public bool RemoveExtraWhitespaces { get; set; } = true;
    public bool EscapeWhitespaces { get; set; } = true;

    public byte[] ToBytes()
    {
        var model = new List<byte>();
        foreach (var (piece, score, type) in Pieces)
        {
            var p = new List<byte>();
            WriteBytes(p, 1, Encoding.UTF8.GetBytes(piece));
            WriteFloat(p, 2, score);
            WriteVarintField(p, 3, (ulong)type);
            WriteBytes(model, 1, [.. p]);
        }
        var trainer = new List<byte>();
        WriteVarintField(trainer, 3, (ulong)ModelType);
        WriteVarintField(trainer, 4, (ulong)Pieces.Count);
        WriteVarintField(trainer, 24, TreatWhitespaceAsSuffix ? 1UL : 0UL);
        WriteVarintField(trainer, 35, ByteFallback ? 1UL : 0UL);
        WriteVarintField(trainer, 40, (ulong)(long)UnkId);
        WriteVarintField(trainer, 41, (ulong)(long)BosId);
        WriteVarintField(trainer, 42, (ulong)(long)EosId);
        WriteVarintField(trainer, 43, (ulong)(long)PadId);
        WriteBytes(model, 2, [.. trainer]);
        var normalizer = new List<byte>();
        WriteBytes(normalizer, 1, Encoding.UTF8.GetBytes(NormalizerName));
        WriteVarintField(normalizer, 3, AddDummyPrefix ? 1UL : 0UL);
        WriteVarintField(normalizer, 4, RemoveExtraWhitespaces ? 1UL : 0UL);
        WriteVarintField(normalizer, 5, EscapeWhitespaces ? 1UL : 0UL);
        WriteBytes(model, 3, [.. normalizer]);
        return [.. model];
    }

    public static SentencePieceModelProto Parse(ReadOnlySpan<byte> data)
    {
        var m = new SentencePieceModelProto();
        var pos = 0;
        while (pos < data.Length)
        {
            var (field, wire) = ReadKey(data, ref pos);
            if (wire == 2 && field is 1 or 2 or 3)
            {
                var body = ReadLengthDelimited(data, ref pos);
                if (field == 1) m.Pieces.Add(ParsePiece(body));
                else if (field == 2) m.ParseTrainer(body);
                else m.ParseNormalizer(body);
            }
            else Skip(data, ref pos, wire);
        }
        return m;
    }

    private static (string, float, int) ParsePiece(ReadOnlySpan<byte> data)
    {
        string piece = "";
        float score = 0;
        var type = Normal;
        var pos = 0;
        while (pos < data.Length)
        {
            var (field, wire) = ReadKey(data, ref pos);
            if (field == 1 && wire == 2) piece = Encoding.UTF8.GetString(ReadLengthDelimited(data, ref pos));
            else if (field == 2 && wire == 5)
            {
                if (pos + 4 > data.Length) throw new InvalidDataException("truncated SentencePiece model (score)");
                score = BinaryPrimitives.ReadSingleLittleEndian(data[pos..]);
                pos += 4;
            }
            else if (field == 3 && wire == 0) type = (int)ReadVarint(data, ref pos);
            else Skip(data, ref pos, wire);
        }
        return (piece, score, type);
    }

    private void ParseTrainer(ReadOnlySpan<byte> data)
    {
        var pos = 0;
        while (pos < data.Length)
        {
            var (field, wire) = ReadKey(data, ref pos);
            if (wire != 0) { Skip(data, ref pos, wire); continue; }
            var v = ReadVarint(data, ref pos);
            switch (field)
            {
                case 3: ModelType = (int)v; break;
                case 24: TreatWhitespaceAsSuffix = v != 0; break;
                case 35: ByteFallback = v != 0; break;
                case 40: UnkId = (int)(long)v; break;
                case 41: BosId = (int)(long)v; break;
                case 42: EosId = (int)(long)v; break;
                case 43: PadId = (int)(long)v; break;
            }
        }
    }

    private void ParseNormalizer(ReadOnlySpan<byte> data)
    {
        var pos = 0;
        while (pos < data.Length)
        {
            var (field, wire) = ReadKey(data, ref pos);
            if (field == 1 && wire == 2) { NormalizerName = Encoding.UTF8.GetString(ReadLengthDelimited(data, ref pos)); continue; }
            if (wire != 0) { Skip(data, ref pos, wire); continue; }
            var v = ReadVarint(data, ref pos) != 0;
            switch (field)
            {
                case 3: AddDummyPrefix = v; break;
                case 4: RemoveExtraWhitespaces = v; break;
                case 5: EscapeWhitespaces = v; break;
            }
        }
    }

    // ------------------------------------------------------------------ wire format

    private static void WriteVarint(List<byte> o, ulong v)
    {
        while (v >= 0x80) { o.Add((byte)(v | 0x80)); v >>= 7; }
        o.Add((byte)v);
    }

    private static void WriteVarintField(List<byte> o, int field, ulong v)
    {
        WriteVarint(o, (ulong)(field << 3));
        WriteVarint(o, v);
    }

    private static void WriteBytes(List<byte> o, int field, byte[] bytes)
    {
        WriteVarint(o, (ulong)((field << 3) | 2));
        WriteVarint(o, (ulong)bytes.Length);
        o.AddRange(bytes);
    }

    private static void WriteFloat(List<byte> o, int field, float v)
    {
        WriteVarint(o, (ulong)((field << 3) | 5));
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, v);
        o.AddRange(b.ToArray());
    }

    private static (int Field, int Wire) ReadKey(ReadOnlySpan<byte> d, ref int pos)
    {
        var key = ReadVarint(d, ref pos);
        return ((int)(key >> 3), (int)(key & 7));
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> d, ref int pos)
    {
        ulong v = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (pos >= d.Length || shift > 63) throw new InvalidDataException("truncated SentencePiece model (varint)");
            var b = d[pos++];
            v |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return v;
        }
    }

    private static ReadOnlySpan<byte> ReadLengthDelimited(ReadOnlySpan<byte> d, ref int pos)
    {
        var len = (long)ReadVarint(d, ref pos);
        if (len < 0 || pos + len > d.Length) throw new InvalidDataException("truncated SentencePiece model (length)");
        var s = d.Slice(pos, (int)len);
        pos += (int)len;
        return s;
    }

    private static void Skip(ReadOnlySpan<byte> d, ref int pos, int wire)
    {
        switch (wire)
        {
            case 0: ReadVarint(d, ref pos); break;
            case 1: pos += 8; break;
            case 2: ReadLengthDelimited(d, ref pos); break;
            case 5: pos += 4; break;
            default: throw new InvalidDataException($"SentencePiece model: unsupported wire type {wire}");
        }
        if (pos > d.Length) throw new InvalidDataException("truncated SentencePiece model");
    }
}
