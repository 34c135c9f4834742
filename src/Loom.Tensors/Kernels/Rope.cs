using System.Collections.Concurrent;

namespace Loom.Tensors.Kernels;

/// <summary>
/// Rotary position embedding tables and the rotation kernel. cos/sin of pos * theta^(-2i/D) are computed in
/// double once per (D, theta) and grown (doubling) when a longer position range is asked for; readers take an
/// immutable snapshot, so lookups need no lock and no allocation.
/// </summary>
public static unsafe class Rope
{
    /// <summary>cos and sin, (positions, D/2) row-major.</summary>
    public sealed class Table
    {
        public readonly int Positions, Half;
        public readonly float[] Cos, Sin;

        internal Table(int positions, int headDim, float theta)
        {
            Positions = positions;
            Half = headDim / 2;
            Cos = GC.AllocateUninitializedArray<float>(positions * Half, pinned: true);
            Sin = GC.AllocateUninitializedArray<float>(positions * Half, pinned: true);
            for (int i = 0; i < Half; i++)
            {
                double invFreq = Math.Pow(theta, -2.0 * i / headDim);
                for (int p = 0; p < positions; p++)
                {
                    double a = p * invFreq;
                    Cos[p * Half + i] = (float)Math.Cos(a);
                    Sin[p * Half + i] = (float)Math.Sin(a);
                }
            }
        }
    }

    private sealed class Holder { public volatile Table? Current; }

    private static readonly ConcurrentDictionary<(int, float), Holder> Tables = new();

    /// <summary>The table for (headDim, theta) covering at least positions [0, positions).</summary>
    public static Table GetTable(int headDim, float theta, int positions)
    {
        var holder = Tables.GetOrAdd((headDim, theta), static _ => new Holder());
        var t = holder.Current;
        if (t != null && t.Positions >= positions) return t;
        lock (holder)
        {
            t = holder.Current;
            if (t != null && t.Positions >= positions) return t;
            int n = Math.Max(positions, Math.Max(256, t == null ? 0 : t.Positions * 2));
            t = new Table(n, headDim, theta);
            holder.Current = t;
            return t;
        }
    }

    /// <summary>
    /// Rotates rows of x (rows = B * T * H for a (B, T, H, D) tensor, position of a row = offset + (row / H) % T)
    /// into y (which may alias x). With <paramref name="inverse"/> the rotation is undone: the backward pass.
    /// </summary>
    public static void Apply(float* x, float* y, int batch, int t, int heads, int d, int offset, float theta, RopeStyle style, bool inverse)
    {
        var table = GetTable(d, theta, offset + t);
        int rows = batch * t;
        long n = (long)rows * heads * d;
        ComputePool.For(rows, new Body { X = x, Y = y, T = t, H = heads, D = d, Offset = offset, Table = table, Style = style, Sign = inverse ? -1f : 1f },
            n < Ops.ParallelThreshold ? 1 : 0);
    }

    private struct Body : IRangeBody
    {
        public float* X, Y;
        public int T, H, D, Offset;
        public Table Table;
        public RopeStyle Style;
        public float Sign;

        public readonly void Run(int start, int end)
        {
            int half = D / 2;
            fixed (float* cosBase = Table.Cos, sinBase = Table.Sin)
            {
                for (int bt = start; bt < end; bt++)
                {
                    int pos = Offset + bt % T;
                    float* c = cosBase + (long)pos * half, s = sinBase + (long)pos * half;
                    for (int h = 0; h < H; h++)
                    {
                        long off = ((long)bt * H + h) * D;
                        float* xr = X + off, yr = Y + off;
                        if (Style == RopeStyle.Neox)
                        {
                            for (int i = 0; i < half; i++)
                            {
                                float a = xr[i], b = xr[i + half], sn = Sign * s[i];
                                yr[i] = a * c[i] - b * sn;
                                yr[i + half] = a * sn + b * c[i];
                            }
                        }
                        else
                        {
                            for (int i = 0; i < half; i++)
                            {
                                float a = xr[2 * i], b = xr[2 * i + 1], sn = Sign * s[i];
                                yr[2 * i] = a * c[i] - b * sn;
                                yr[2 * i + 1] = a * sn + b * c[i];
                            }
                        }
                    }
                }
            }
        }
    }
}
