using System.CommandLine;
using Spectre.Console;
using Vib3.Engine;

namespace Vib3.Cli.Commands;

/// <summary>vib3 repl: the interactive shell over one session; history in &lt;data-dir&gt;/history.</summary>
internal static class ReplCommand
{
    public static Command Create(IAnsiConsole console, TextReader input, TextWriter output)
    {
        var command = new Command("repl", "Interactive shell: statements end with ';', \\? for help");
        command.SetAction(async r =>
        {
            var catalog = GlobalOptions.Catalog(r);
            Directory.CreateDirectory(catalog.DataDir);
            var engine = GlobalOptions.OpenEngine(r, GlobalOptions.EngineOptions(r, catalog.DataDir));
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            session.Progress = r.InvocationConfiguration.Error.WriteLine;
            var repl = new Repl(session, input, output, console, Path.Combine(catalog.DataDir, "history"));
            ConsoleCancelEventHandler onCtrlC = (_, e) =>
            {
                repl.CancelCurrent(); // Ctrl-C stops the running statement, never the shell
                e.Cancel = true;
            };
            Console.CancelKeyPress += onCtrlC;
            try { return await repl.RunAsync(); }
            finally { Console.CancelKeyPress -= onCtrlC; }
        });
        return command;
    }
}
