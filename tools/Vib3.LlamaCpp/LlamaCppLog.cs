using System.Text;
using LLama.Native;

namespace Vib3.LlamaCpp;

/// <summary>Routes llama.cpp's log through one callback so nothing reaches test output: messages below error are
/// dropped, errors are kept (a bounded tail) so a refused file's exception can say why.</summary>
internal static class LlamaCppLog
{
    private const int MaxKeptChars = 4096;

    private static readonly Lock Gate = new();
    private static readonly StringBuilder Errors = new();
    private static bool _installed;
    private static LLamaLogLevel _lastLevel = LLamaLogLevel.None;

    // Held in a static field so the delegate handed to native code is never collected.
    private static readonly NativeLogConfig.LLamaLogCallback Callback = OnMessage;

    /// <summary>Installs the callback once per process, before any model is loaded.</summary>
    public static void EnsureInstalled()
    {
        lock (Gate)
        {
            if (_installed) return;
            // Before the native library loads, the callback can only be handed to the loader's config (which
            // also covers the loader's own messages); NativeApi's first use then loads the library.
            if (!NativeLibraryConfig.LLama.LibraryHasLoaded) NativeLibraryConfig.All.WithLogCallback(Callback);
            NativeApi.llama_empty_call();
            NativeLogConfig.llama_log_set(Callback);
            _installed = true;
        }
    }

    /// <summary>Error messages logged since the last call (possibly from other threads' models too), then
    /// forgets them.</summary>
    public static string TakeErrors()
    {
        lock (Gate)
        {
            var s = Errors.ToString().Trim();
            Errors.Clear();
            return s;
        }
    }

    private static void OnMessage(LLamaLogLevel level, string message)
    {
        lock (Gate)
        {
            // Continue carries on the previous message at the previous message's level.
            if (level == LLamaLogLevel.Continue) level = _lastLevel;
            else _lastLevel = level;
            if (level != LLamaLogLevel.Error) return;
            Errors.Append(message);
            if (Errors.Length > MaxKeptChars) Errors.Remove(0, Errors.Length - MaxKeptChars);
        }
    }
}
