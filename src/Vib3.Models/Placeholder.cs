namespace Vib3.Models;
