namespace Loom.Nn;

/// <summary>
/// Linear warm-up to a peak learning rate, then cosine decay to a minimum: a pure function of the step, so a
/// resumed run needs only the step count. Step s (from 0) is the update about to be taken:
/// s &lt; warmup: peak*(s+1)/warmup; warmup &lt;= s &lt; total: min + (peak-min)*(1+cos(pi*(s-warmup)/(total-warmup)))/2;
/// s &gt;= total: min.
/// </summary>
public sealed record LrSchedule
{
    public double PeakLr { get; }
    public double MinLr { get; }
    public long WarmupSteps { get; }
    public long TotalSteps { get; }

    public LrSchedule(double peakLr, long warmupSteps, long totalSteps, double minLr = 0)
    {
        if (!(peakLr >= 0) || !double.IsFinite(peakLr)) throw new ArgumentOutOfRangeException(nameof(peakLr), peakLr, "peak learning rate must be finite and >= 0");
        if (!(minLr >= 0) || minLr > peakLr) throw new ArgumentOutOfRangeException(nameof(minLr), minLr, "minimum learning rate must be in [0, peak]");
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "warm-up steps must be >= 0");
        if (totalSteps < warmupSteps) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"total steps must be >= warm-up steps ({warmupSteps})");
        PeakLr = peakLr; MinLr = minLr; WarmupSteps = warmupSteps; TotalSteps = totalSteps;
    }

    /// <summary>The learning rate for zero-based step <paramref name="step"/>.</summary>
    public double At(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be >= 0");
        if (step < WarmupSteps) return PeakLr * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return MinLr;
        double progress = (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return MinLr + 0.5 * (PeakLr - MinLr) * (1 + Math.Cos(Math.PI * progress));
    }
}
