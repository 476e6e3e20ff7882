return Vib3.Cli.Vib3Cli.Run(args, Console.Out, Console.Error);
