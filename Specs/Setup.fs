namespace Verification.Specs

open System.Globalization
open NUnit.Framework

/// Numbers in messages and snapshots never depend on the machine's locale.
[<SetUpFixture>]
type InvariantCultureSetup() =
    [<OneTimeSetUp>]
    member _.UseInvariantCulture() =
        CultureInfo.DefaultThreadCurrentCulture <- CultureInfo.InvariantCulture
        CultureInfo.DefaultThreadCurrentUICulture <- CultureInfo.InvariantCulture
        CultureInfo.CurrentCulture <- CultureInfo.InvariantCulture
