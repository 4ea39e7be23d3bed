/// Headless Chromium driven over the DevTools protocol (a WebSocket, JSON messages), with nothing but the BCL: the
/// report's pages are opened from disk, clicked and read back as a researcher's browser would.
module Verification.Specs.Browser.Chromium

open System
open System.Diagnostics
open System.IO
open System.Net.Http
open System.Net.WebSockets
open System.Text
open System.Text.Json.Nodes
open System.Threading

/// Debian's package puts the browser here; .ci/run installs it.
let candidates = [ "/usr/bin/chromium"; "/usr/bin/chromium-browser"; "/usr/bin/google-chrome" ]

let find () = candidates |> List.tryFind File.Exists

let private timeout = TimeSpan.FromSeconds 60.0

/// One tab: send a command and wait for its answer; JavaScript exceptions and console errors are kept for the spec.
type Page(socket: ClientWebSocket) =
    let mutable nextId = 0
    let errors = ResizeArray<string>()

    let receive () =
        let buffer = Array.zeroCreate<byte> 65536
        use message = new MemoryStream()
        use cancel = new CancellationTokenSource(timeout)
        let mutable finished = false
        while not finished do
            let result = socket.ReceiveAsync(ArraySegment buffer, cancel.Token).GetAwaiter().GetResult()
            if result.MessageType = WebSocketMessageType.Close then failwith "Chromium closed the DevTools connection"
            message.Write(buffer, 0, result.Count)
            finished <- result.EndOfMessage
        JsonNode.Parse(Encoding.UTF8.GetString(message.ToArray()))

    let noteEvent (event: JsonNode) =
        let p = event["params"]
        let json (node: JsonNode) = if isNull node then "" else node.ToJsonString()
        match string (event["method"]) with
        | "Runtime.exceptionThrown" -> errors.Add("exception: " + json (p["exceptionDetails"]))
        | "Runtime.consoleAPICalled" when string (p["type"]) = "error" -> errors.Add("console.error: " + json (p["args"]))
        | "Log.entryAdded" when string (p["entry"]["level"]) = "error" -> errors.Add("log: " + string (p["entry"]["text"]))
        | _ -> ()

    /// JavaScript errors and failed loads seen so far.
    member _.Errors = List.ofSeq errors

    member _.Send(methodName: string, ?parameters: JsonObject) : JsonNode =
        nextId <- nextId + 1
        let id = nextId
        let command = JsonObject()
        command["id"] <- JsonValue.Create id
        command["method"] <- JsonValue.Create methodName
        command["params"] <- (defaultArg parameters (JsonObject()) :> JsonNode)
        let bytes = Encoding.UTF8.GetBytes(command.ToJsonString())
        socket.SendAsync(ArraySegment bytes, WebSocketMessageType.Text, true, CancellationToken.None).GetAwaiter().GetResult()
        let mutable answer = None
        while answer.IsNone do
            let message = receive ()
            match message["id"] with
            | null -> noteEvent message
            | got when got.GetValue<int>() = id -> answer <- Some message
            | _ -> ()
        let answer = answer.Value
        match answer["error"] with
        | null -> answer["result"]
        | error -> failwithf "DevTools %s failed: %s" methodName (error.ToJsonString())

    /// Evaluates an expression in the page and returns its value (JSON-serialisable results only).
    member this.Evaluate(expression: string) : JsonNode =
        let p = JsonObject()
        p["expression"] <- JsonValue.Create expression
        p["returnByValue"] <- JsonValue.Create true
        p["awaitPromise"] <- JsonValue.Create true
        let result = this.Send("Runtime.evaluate", p)
        match result["exceptionDetails"] with
        | null -> result["result"]["value"]
        | details -> failwithf "the page threw on `%s`: %s" expression (details.ToJsonString())

    /// Polls until the expression is true.
    member this.WaitUntil(expression: string, what: string) =
        let watch = Stopwatch.StartNew()
        let mutable ok = false
        while not ok do
            ok <- (match this.Evaluate expression with null -> false | v -> v.GetValue<bool>())
            if not ok then
                if watch.Elapsed > timeout then failwithf "timed out after %.0f s waiting for %s (%s)" timeout.TotalSeconds what expression
                Thread.Sleep 50

    member this.Navigate(url: string) =
        let p = JsonObject()
        p["url"] <- JsonValue.Create url
        this.Send("Page.navigate", p) |> ignore
        this.WaitUntil("document.readyState === 'complete'", "the page to load " + url)

    /// A PNG of the whole page.
    member this.Screenshot(path: string) =
        let p = JsonObject()
        p["format"] <- JsonValue.Create "png"
        p["captureBeyondViewport"] <- JsonValue.Create true
        let height = this.Evaluate("Math.ceil(document.documentElement.scrollHeight)").GetValue<int>()
        let clip = JsonObject()
        clip["x"] <- JsonValue.Create 0
        clip["y"] <- JsonValue.Create 0
        clip["width"] <- JsonValue.Create 1280
        clip["height"] <- JsonValue.Create(min height 1400)
        clip["scale"] <- JsonValue.Create 1
        p["clip"] <- clip
        let data = string (this.Send("Page.captureScreenshot", p)["data"])
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path)) |> ignore
        File.WriteAllBytes(path, Convert.FromBase64String data)

    interface IDisposable with
        member _.Dispose() =
            try socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).Wait(2000) |> ignore with _ -> ()
            socket.Dispose()

/// A headless Chromium with its own empty profile, killed and removed when disposed.
type Browser(executable: string) =
    let profile = Path.Combine(Path.GetTempPath(), "verification-chromium-" + Guid.NewGuid().ToString("N"))
    do Directory.CreateDirectory profile |> ignore
    // The flags of a machine with no network: without the background-networking ones Chromium keeps dialling out.
    let arguments =
        [ "--headless"; "--no-sandbox"; "--disable-gpu"; "--disable-quic"; "--no-first-run"; "--disable-background-networking"
          "--disable-component-update"; "--disable-sync"; "--disable-extensions"; "--window-size=1280,900"
          "--remote-debugging-port=0"; "--user-data-dir=" + profile; "about:blank" ]
    let start = ProcessStartInfo(executable, arguments, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false)
    let browser = Process.Start start
    do
        browser.ErrorDataReceived.Add ignore
        browser.OutputDataReceived.Add ignore
        browser.BeginErrorReadLine()
        browser.BeginOutputReadLine()
    // Chromium writes the port it chose into the profile once it listens.
    let port =
        let file = Path.Combine(profile, "DevToolsActivePort")
        let watch = Stopwatch.StartNew()
        let mutable port = None
        while port.IsNone do
            if browser.HasExited then failwithf "%s exited with code %d before it listened for DevTools" executable browser.ExitCode
            if watch.Elapsed > timeout then failwithf "%s did not write %s within %.0f s" executable file timeout.TotalSeconds
            try
                match File.ReadAllLines file with
                | lines when lines.Length > 0 && lines[0].Length > 0 -> port <- Some(int lines[0])
                | _ -> Thread.Sleep 50
            with :? IOException -> Thread.Sleep 50
        port.Value

    /// A new tab on the URL, with page events and the runtime's errors reported to the Page.
    member _.Open(url: string) : Page =
        use http = new HttpClient(Timeout = timeout)
        // A blank tab first, so that errors during the page's own load are already being reported.
        let target = http.PutAsync(sprintf "http://127.0.0.1:%d/json/new" port, null).GetAwaiter().GetResult()
        let body = target.EnsureSuccessStatusCode().Content.ReadAsStringAsync().GetAwaiter().GetResult()
        let socket = new ClientWebSocket()
        socket.Options.KeepAliveInterval <- TimeSpan.Zero
        socket.ConnectAsync(Uri(string ((JsonNode.Parse body)["webSocketDebuggerUrl"])), CancellationToken.None).GetAwaiter().GetResult()
        let page = new Page(socket)
        page.Send "Runtime.enable" |> ignore
        page.Send "Log.enable" |> ignore
        page.Send "Page.enable" |> ignore
        page.Navigate url
        page

    interface IDisposable with
        member _.Dispose() =
            try browser.Kill true with _ -> ()
            browser.WaitForExit 5000 |> ignore
            browser.Dispose()
            try Directory.Delete(profile, true) with _ -> ()
