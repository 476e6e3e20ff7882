namespace Vib3.Kernels;
