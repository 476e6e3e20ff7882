using System.Security.Cryptography;
using System.Text;

namespace Vib3.Server.PgWire;

/// <summary>The server side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL runs it: the user name in the
/// client-first message is ignored (the startup packet's user counts), channel binding is not offered (gs2 header
/// "n,," or "y,,"), iteration count 4096. Messages are ASCII attribute lists "a=value,b=value".</summary>
internal sealed class ScramSha256
{
    public const string Mechanism = "SCRAM-SHA-256";
    public const int Iterations = 4096;

    private readonly byte[] _salt;
    private readonly byte[] _storedKey;
    private readonly byte[] _serverKey;

    /// <summary>Derives the keys once (PBKDF2 is deliberately slow); a server keeps one instance for its password.</summary>
    public ScramSha256(string password, byte[]? salt = null)
    {
        _salt = salt ?? RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), _salt, Iterations, HashAlgorithmName.SHA256, 32);
        _storedKey = SHA256.HashData(HMACSHA256.HashData(salted, "Client Key"u8));
        _serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
    }

    /// <summary>One exchange: <see cref="First"/> then <see cref="Final"/>.</summary>
    public Exchange Start() => new(this);

    internal sealed class Exchange(ScramSha256 keys)
    {
        private string _gs2Header = "";
        private string _clientFirstBare = "";
        private string _serverFirst = "";
        private string _nonce = "";

        /// <summary>Reads client-first-message, returns server-first-message. Throws <see cref="FormatException"/>
        /// on a malformed message or one asking for channel binding.</summary>
        public string First(string clientFirst)
        {
            // gs2-header = cbind-flag "," [authzid] ","
            var c1 = clientFirst.IndexOf(',');
            var c2 = c1 < 0 ? -1 : clientFirst.IndexOf(',', c1 + 1);
            if (c1 != 1 || c2 < 0) throw new FormatException("malformed SCRAM message (gs2 header)");
            var flag = clientFirst[0];
            if (flag == 'p') throw new FormatException("channel binding is not supported by this server");
            if (flag is not ('n' or 'y')) throw new FormatException("malformed SCRAM message (channel binding flag)");
            if (c2 != c1 + 1) throw new FormatException("client uses authorization identity, but it is not supported");
            _gs2Header = clientFirst[..(c2 + 1)];
            _clientFirstBare = clientFirst[(c2 + 1)..];
            var attrs = Attributes(_clientFirstBare);
            if (attrs.Count < 2 || attrs[0].Key != 'n' || attrs[1].Key != 'r' || attrs[1].Value.Length == 0)
                throw new FormatException("malformed SCRAM message (expected n= then r=)");
            var clientNonce = attrs[1].Value;
            if (clientNonce.Any(ch => ch is < '!' or > '~' || ch == ','))
                throw new FormatException("malformed SCRAM message (nonce)");
            _nonce = clientNonce + System.Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
            _serverFirst = $"r={_nonce},s={System.Convert.ToBase64String(keys._salt)},i={Iterations}";
            return _serverFirst;
        }

        /// <summary>Reads client-final-message; returns server-final-message when the proof is right, null when the
        /// password is wrong. Throws <see cref="FormatException"/> on a malformed message.</summary>
        public string? Final(string clientFinal)
        {
            var proofAt = clientFinal.LastIndexOf(",p=", StringComparison.Ordinal);
            if (proofAt < 0) throw new FormatException("malformed SCRAM message (no proof)");
            var withoutProof = clientFinal[..proofAt];
            var attrs = Attributes(withoutProof);
            if (attrs.Count < 2 || attrs[0].Key != 'c' || attrs[1].Key != 'r')
                throw new FormatException("malformed SCRAM message (expected c= then r=)");
            byte[] binding, proof;
            try
            {
                binding = System.Convert.FromBase64String(attrs[0].Value);
                proof = System.Convert.FromBase64String(clientFinal[(proofAt + 3)..]);
            }
            catch (FormatException) { throw new FormatException("malformed SCRAM message (invalid base64)"); }
            if (Encoding.ASCII.GetString(binding) != _gs2Header)
                throw new FormatException("SCRAM channel binding check failed");
            if (attrs[1].Value != _nonce) throw new FormatException("SCRAM nonce mismatch");
            if (proof.Length != 32) throw new FormatException("malformed SCRAM message (invalid proof)");

            var authMessage = Encoding.UTF8.GetBytes($"{_clientFirstBare},{_serverFirst},{withoutProof}");
            var clientSignature = HMACSHA256.HashData(keys._storedKey, authMessage);
            var clientKey = new byte[32];
            for (var i = 0; i < 32; i++) clientKey[i] = (byte)(proof[i] ^ clientSignature[i]);
            if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(clientKey), keys._storedKey)) return null;
            return "v=" + System.Convert.ToBase64String(HMACSHA256.HashData(keys._serverKey, authMessage));
        }

        private static List<KeyValuePair<char, string>> Attributes(string text)
        {
            var list = new List<KeyValuePair<char, string>>();
            foreach (var part in text.Split(','))
            {
                if (part.Length < 2 || part[1] != '=' || !char.IsAsciiLetter(part[0]))
                    throw new FormatException("malformed SCRAM message (attribute)");
                list.Add(new(part[0], part[2..]));
            }
            return list;
        }
    }
}
