using System.CommandLine;
using Verification.Cli.Commands;

namespace Verification.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("verification: executable specs of published claims about attention heads.");

        var scan = new Command("scan", "Scan a model's attention heads with every detector (no arguments: a zoo model).");
        scan.SetAction(_ =>
        {
            Console.Error.WriteLine("scan: the engine cannot run models yet (see issue 'Models, hooks, interventions').");
            return 2;
        });
        root.Add(scan);

        var bench = new Command("bench", "Benchmarks, printed as ratios against a stated reference.");
        var seconds = new Option<double>("--seconds") { Description = "Seconds of timing per measurement.", DefaultValueFactory = _ => 1.0 };
        var gemm = new Command("gemm", "Matrix-product GFLOP/s: OpenBLAS from C, from C#, and the managed kernel.") { seconds };
        gemm.SetAction(parse => BenchCommand.Gemm(parse.GetValue(seconds)));
        bench.Add(gemm);
        root.Add(bench);

        return root.Parse(args).Invoke();
    }
}
