using Vib3.Core;

namespace Vib3.Storage;

/// <summary>The error for a store another version of vib3 wrote. Stores are always converted from a source
/// checkpoint (the default model from the folder that ships with vib3), so an old store is converted again rather
/// than upgraded in place.</summary>
public static class StoreFormat
{
    public static Vib3Exception Unreadable(string model, string what, bool older) =>
        new(SqlState.FeatureNotSupported, older
            ? $"model {model} was converted by an older vib3 ({what}): convert it again from its source " +
              $"(vib3 drop {model}, then vib3 convert SOURCE --name {model}; or DROP MODEL {ModelNames.ForStatement(model)}, then CREATE MODEL {ModelNames.ForStatement(model)} FROM 'SOURCE')"
            : $"model {model} was converted by a newer vib3 ({what}): use that vib3, or convert it again with this one");
}
