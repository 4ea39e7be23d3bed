using System.CommandLine;

namespace Verification.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("verification: executable specs of published claims about attention heads.");
        var scan = new Command("scan", "Scan a model's attention heads with every detector (no arguments: a zoo model).");
        scan.SetAction(_ =>
        {
            Console.Error.WriteLine("scan: the engine cannot run models yet (see issue 'Engine core').");
            return 2;
        });
        root.Add(scan);
        return root.Parse(args).Invoke();
    }
}
