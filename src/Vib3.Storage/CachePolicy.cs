using Vib3.Core;

namespace Vib3.Storage;

/// <summary>The page cache's eviction policy, by name (<c>--cache-policy</c>).</summary>
public enum CachePolicy
{
    /// <summary>Least recently used (<see cref="LruEvictionPolicy"/>).</summary>
    Lru,
    /// <summary>Expert-aware: decayed frequency per page, prefetches kept until read, dense pages last (<see cref="LfruEvictionPolicy"/>).</summary>
    Lfru,
}

public static class CachePolicies
{
    /// <summary>"lru" or "lfru" (any case).</summary>
    public static CachePolicy Parse(string name) => name.ToLowerInvariant() switch
    {
        "lru" => CachePolicy.Lru,
        "lfru" => CachePolicy.Lfru,
        _ => throw new Vib3Exception(SqlState.InvalidParameterValue, $"cache policy '{name}': use lru or lfru"),
    };

    public static string Name(CachePolicy policy) => policy.ToString().ToLowerInvariant();

    /// <summary>A fresh policy; <paramref name="classes"/> (null: every page is alike) tells LFRU which pages are dense.</summary>
    public static IEvictionPolicy Create(CachePolicy policy, IPageClasses? classes) => policy switch
    {
        CachePolicy.Lru => new LruEvictionPolicy(),
        CachePolicy.Lfru => new LfruEvictionPolicy(classes),
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, null),
    };
}
