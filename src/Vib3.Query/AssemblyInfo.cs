namespace Vib3.Query;
