using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Loom.Tensors;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Loom.Cli.Commands;

/// <summary>`loom env`: what the engine detected (vector width, FMA, threads) so a user can tell why a run is slow.</summary>
public sealed class EnvCommand : Command
{
    public override int Execute(CommandContext context, CancellationToken cancellationToken)
    {
        var t = new Table().AddColumns("what", "value");
        t.AddRow("runtime", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
        t.AddRow("cores / compute threads", $"{Environment.ProcessorCount} / {ComputePool.Threads}");
        t.AddRow("Vector512", Vector512.IsHardwareAccelerated.ToString());
        t.AddRow("Vector256", Vector256.IsHardwareAccelerated.ToString());
        t.AddRow("FMA", Fma.IsSupported.ToString());
        t.AddRow("AVX-VNNI / AVX10", AvxVnni.IsSupported || Avx10v1.IsSupported ? "True" : "False");
        t.AddRow("memory (GC view)", $"{GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 20)} MiB");
        AnsiConsole.Write(t);
        return 0;
    }
}
