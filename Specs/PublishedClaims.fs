/// The sources' numbers on real checkpoints (CLAIMS.md), each checked by a Published spec when the weights exist; the
/// index of findings lists them.
module Verification.Specs.PublishedClaims

open Verification.Reports

let all: PublishedClaim list =
    [
      PublishedClaim("1.P1", "previous-token heads 4.11 (and 2.2) score above 0.3 on real text", "SPD PR #403; ARENA", "GPT-2 small", "4.11, 2.2 > 0.3",
            "HeadDetectors.GPT-2 small's previous-token, induction, duplicate-token and S-inhibition heads are the published ones")
      PublishedClaim("1.P2", "induction heads 5.1, 5.5, 6.9, 7.2, 7.10 score above 0.3 on repeated random tokens", "ARENA (IOI paper: 5.5, 5.8, 5.9, 6.9)", "GPT-2 small",
            "> 0.3", "HeadDetectors.GPT-2 small's previous-token, induction, duplicate-token and S-inhibition heads are the published ones")
      PublishedClaim("1.P3", "duplicate-token heads 0.1, 0.10, 3.0", "IOI paper (Wang et al.)", "GPT-2 small", "> 0.3",
            "HeadDetectors.GPT-2 small's previous-token, induction, duplicate-token and S-inhibition heads are the published ones")
      PublishedClaim("1.P4", "S-inhibition heads 7.3, 7.9, 8.6, 8.10 attend from the last IOI token to S2", "IOI paper", "GPT-2 small", "attention > 0.1",
            "HeadDetectors.GPT-2 small's previous-token, induction, duplicate-token and S-inhibition heads are the published ones")
      PublishedClaim("1.P5", "TransformerLens's demo prompt: 4.11 previous-token score 0.96 (1.00 without BOS and self), 2.2 0.57", "TransformerLens Head Detector demo",
            "GPT-2 small", "0.96 / 1.00 / 0.57 (±0.02)", "HeadDetectors.on TransformerLens's demo prompt GPT-2 small's head 4.11 scores 0.96 as a previous-token head")
      PublishedClaim("1.P6", ("SPD's detector table: prev-token L1H1 0.604, L0H5 0.308; induction L2H4 0.629; duplicate L0H4 0.323, L0H2 0.202; successor L0H2 +0.307; " +
                        "S-inhibition L3H2 0.377 / −0.029; no delimiter head (best L0H5 1.74×); positional L1H3 at offset 2 (0.226); layer 2 a BOS sink"),
            "goodfire-ai/spd PR #403", "SPD LlamaSimpleMLP 4L × 6H", "the published numbers ±0.05", "HeadDetectors.SPD's 4-layer model has the published detector table")
      PublishedClaim("1.P7", "name movers 9.6, 9.9, 10.0 attend from the last IOI token to the indirect object and copy it", "IOI paper (Wang et al.)", "GPT-2 small",
            "attention to IO > 0.1 and > to S2; OV copy score > 0",
            "HeadDetectors.GPT-2 small's name movers 9 6, 9 9 and 10 0 attend to the indirect object and copy it, and the IOI paper's induction heads score above 0 3")
      PublishedClaim("1.P8", "the IOI paper's induction heads 5.5, 5.8, 5.9, 6.9 score above 0.3 on repeated random tokens", "IOI paper (Wang et al.)", "GPT-2 small", "> 0.3",
            "HeadDetectors.GPT-2 small's name movers 9 6, 9 9 and 10 0 attend to the indirect object and copy it, and the IOI paper's induction heads score above 0 3")
      PublishedClaim("1.P9", "copying heads have a positive OV copying score Σ Re(λ) / Σ |λ| (the name movers among them)", "Elhage et al. 2021", "GPT-2 small",
            "> 0 for 9.6, 9.9, 10.0",
            "HeadDetectors.GPT-2 small's name movers 9 6, 9 9 and 10 0 attend to the indirect object and copy it, and the IOI paper's induction heads score above 0 3")
      PublishedClaim("1.P10", ("SPD's summary claims: L2H4 the strongest BOS head; S-inhibition L3H2's copy score −0.029; no other induction head above 0.1; " +
                        "the best delimiter head L0H5 at 1.74×; L1H1 → L2H4 is the induction circuit (ablating L1H1 removes most of L2H4's score, no other layer-1 head does)"),
            "goodfire-ai/spd PR #403", "SPD LlamaSimpleMLP 4L × 6H", "as published (copy ±0.01, ratio ±0.1); ablation: below half vs above half",
            "HeadDetectors.SPD's 4-layer model has the published detector table")
      PublishedClaim("6.P1", "the source's reference run on gpt2-small + pythia-1b (16 prompts, 272 heads): mean pairwise head distance 10.39, median 9.75, max 32.18",
            "mivanit/attention-motifs", "gpt2-small + pythia-1b (pattern_lens folders)", "±5 % (max ±10 %)",
            "RealPatterns.attention-motifs' reference run on gpt2-small and pythia-1b has mean head distance 10 39, median 9 75 and max 32 18")
      PublishedClaim("3.P1", "maximum attention per head on \"The cat sat on the chair.\": L0H0 0.958, L0H1 0.424, L1H0 0.890, L1H1 0.827",
            "chandanms/tinyllm-mechinter", "prajjwal1/bert-tiny", "±0.0015",
            "NegationAttention.bert-tiny's maximum attention per head on The cat sat on the chair is 0 958, 0 424, 0 890 and 0 827")
      PublishedClaim("4.P1", "most layer-0 attention-output SAE features are described well by about 100 skip-gram rules; absence (distractor) rules in over a quarter",
            "princeton-nlp/AttentionRules", "GPT-2 small + the source's per-head SAEs", "> half described well (F1 ≥ 0.9, k ≤ 128); > 25 % with distractors",
            "RulePrecision.in GPT-2 small most layer-0 attention features are described by about 100 rules, and over a quarter have distractors")
      PublishedClaim("5.P1", "next-token neurons concentrate in later layers (the source studied layers 31–35)", "Neo, Cohen, Barez 2024", "GPT-2 large",
            "mean congruence of layers 31–35 above layers 0–4",
            "ContextLookups.in GPT-2 large the next-token neurons of layers 31 to 35 are more congruent than those of the first layers")
    ]
