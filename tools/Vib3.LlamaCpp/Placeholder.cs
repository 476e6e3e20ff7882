namespace Vib3.LlamaCpp;
