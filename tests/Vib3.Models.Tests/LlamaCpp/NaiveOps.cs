namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>The plain arithmetic the naive references share (double accumulation, no SIMD): obviously right, slow.</summary>
internal static class NaiveOps
{
    public static float[] MatVec(float[] m, float[] v, int rows)
    {
        var o = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            double a = 0;
            for (var i = 0; i < v.Length; i++) a += m[r * v.Length + i] * v[i];
            o[r] = (float)a;
        }
        return o;
    }

    public static float[] Rms(float[] v, float[] w, double eps)
    {
        double ss = 0;
        foreach (var a in v) ss += a * a;
        var r = (float)(1 / Math.Sqrt(ss / v.Length + eps));
        var o = new float[v.Length];
        for (var i = 0; i < v.Length; i++) o[i] = v[i] * r * w[i];
        return o;
    }

    public static float[] SwiGlu(float[] gate, float[] up, float[] down, float[] h, int ff, int d)
    {
        var g = MatVec(gate, h, ff);
        var u = MatVec(up, h, ff);
        for (var i = 0; i < ff; i++) g[i] = g[i] / (1 + MathF.Exp(-g[i])) * u[i];
        return MatVec(down, g, d);
    }

    public static void Softmax(double[] w)
    {
        var max = w.Max();
        double z = 0;
        for (var i = 0; i < w.Length; i++) z += w[i] = Math.Exp(w[i] - max);
        for (var i = 0; i < w.Length; i++) w[i] /= z;
    }

    public static void AddInto(float[] acc, float[] add, float scale = 1f)
    {
        for (var i = 0; i < acc.Length; i++) acc[i] += scale * add[i];
    }
}
