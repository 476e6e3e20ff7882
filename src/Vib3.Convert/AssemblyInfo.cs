namespace Vib3.Convert;
