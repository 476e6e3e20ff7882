namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>A message the client sends, parsed by <see cref="PgMessageReader"/>.</summary>
internal interface IFrontendMessage;
