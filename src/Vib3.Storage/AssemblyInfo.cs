namespace Vib3.Storage;
