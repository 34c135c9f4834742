using System.Globalization;
using System.Text;
using Loom.Formats;

namespace Loom.Training.Metrics;

/// <summary>Writes loss curves (any number of named series of (step, value)) as a self-contained SVG.</summary>
public static class LossPlot
{
    public static void WriteSvg(string path, string title, IReadOnlyList<(string Name, string Color, IReadOnlyList<(double X, double Y)> Points)> series)
    {
        const int W = 800, H = 480, L = 70, R = 20, T = 40, B = 50;
        var all = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Y)).ToList();
        double x0 = all.Count > 0 ? all.Min(p => p.X) : 0, x1 = all.Count > 0 ? all.Max(p => p.X) : 1;
        double y0 = all.Count > 0 ? all.Min(p => p.Y) : 0, y1 = all.Count > 0 ? all.Max(p => p.Y) : 1;
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) y1 = y0 + 1;
        double pad = (y1 - y0) * 0.05;
        y0 -= pad; y1 += pad;
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        double Px(double x) => L + (x - x0) / (x1 - x0) * (W - L - R);
        double Py(double y) => H - B - (y - y0) / (y1 - y0) * (H - T - B);
        var sb = new StringBuilder();
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">");
        sb.Append($"<rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>");
        sb.Append($"<text x=\"{W / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{System.Security.SecurityElement.Escape(title)}</text>");
        for (int i = 0; i <= 5; i++)
        {
            double y = y0 + (y1 - y0) * i / 5, py = Py(y);
            sb.Append($"<line x1=\"{L}\" x2=\"{W - R}\" y1=\"{F(py)}\" y2=\"{F(py)}\" stroke=\"#ddd\"/>");
            sb.Append($"<text x=\"{L - 6}\" y=\"{F(py + 4)}\" text-anchor=\"end\">{y.ToString("0.###", CultureInfo.InvariantCulture)}</text>");
            double x = x0 + (x1 - x0) * i / 5, px = Px(x);
            sb.Append($"<text x=\"{F(px)}\" y=\"{H - B + 18}\" text-anchor=\"middle\">{x.ToString("0", CultureInfo.InvariantCulture)}</text>");
        }
        sb.Append($"<text x=\"{W / 2}\" y=\"{H - 10}\" text-anchor=\"middle\">step</text>");
        sb.Append($"<rect x=\"{L}\" y=\"{T}\" width=\"{W - L - R}\" height=\"{H - T - B}\" fill=\"none\" stroke=\"#444\"/>");
        int legend = 0;
        foreach (var (name, color, points) in series)
        {
            var pts = points.Where(p => double.IsFinite(p.Y)).Select(p => $"{F(Px(p.X))},{F(Py(p.Y))}");
            sb.Append($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{string.Join(' ', pts)}\"/>");
            sb.Append($"<text x=\"{W - R - 10}\" y=\"{T + 18 + 16 * legend++}\" text-anchor=\"end\" fill=\"{color}\">{System.Security.SecurityElement.Escape(name)}</text>");
        }
        sb.Append("</svg>");
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(sb.ToString())));
    }
}
