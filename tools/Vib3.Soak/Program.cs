using Vib3.Soak;

// vib3-soak security — the hostile-input battery of issue 16 against a live `vib3 serve`: a Markdown table of
// cases (clean / crash / hang / memory) and a non-zero exit code if any case crashed, hung or grew memory unboundedly.
// vib3-soak reliability — issue 17's load, SIGTERM-under-load and kill -9 cases against real processes: a Markdown
// table of what was measured and a non-zero exit code if any case failed.
return args.FirstOrDefault() switch
{
    "security" => SecurityCommand.Run(args[1..]),
    "reliability" => ReliabilityCommand.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: vib3-soak security [--cli PATH/vib3.dll] [--keep-going] [--cases NAME,NAME]");
    Console.Error.WriteLine($"  cases: {string.Join(", ", SecurityCases.All.Select(c => c.Name))}");
    Console.Error.WriteLine("       vib3-soak reliability [--cli PATH/vib3.dll] [--synth PATH/vib3-synth.dll] [--keep-going] [--cases NAME,NAME]");
    Console.Error.WriteLine($"  cases: {string.Join(", ", ReliabilityCommand.All.Select(c => c.Name))}");
    return 2;
}
