namespace Verification.Fixtures.Prompts;

/// <summary>
/// A small real-text corpus written for this suite (plain English prose, no copyrighted source), for the real-text
/// detectors on models with a GPT-2 vocabulary. One prompt per line.
/// </summary>
public static class EnglishText
{
    public static readonly string[] Lines =
    [
        "The old lighthouse stood at the edge of the cliff, and every night its lamp turned slowly over the dark water.",
        "When the train finally arrived, the station was empty except for a small dog sleeping under a bench.",
        "She opened the letter, read the first line twice, and then put it back in the envelope without a word.",
        "In the spring the river rises quickly; farmers move their animals to higher fields before the rain begins.",
        "The recipe calls for two cups of flour, one egg, a pinch of salt, and enough milk to make a smooth batter.",
        "He wrote the numbers on the board: three, seven, eleven, and thirteen. Then he asked what came next.",
        "Most of the students finished the test early, but a few stayed until the teacher collected the papers.",
        "The market was crowded on Saturday morning. People argued over prices, laughed, and carried baskets of fruit.",
        "If the weather stays clear tomorrow, we will climb the hill and eat lunch beside the ruined tower.",
        "The committee met on Tuesday to discuss the budget, but the meeting ended before anyone agreed on a plan.",
        "A small boat drifted past the harbor wall. Its sail was torn, and nobody was on board.",
        "Why did the experiment fail? The notes suggest the temperature was too high during the second stage.",
        "My grandmother kept a garden full of herbs: mint, thyme, basil, and a rosemary bush taller than me.",
        "The city library opens at nine o'clock, closes at six, and stays open late on Thursday evenings.",
        "After the storm passed, the streets were covered with leaves, branches, and pieces of broken glass.",
        "They walked along the beach until sunset, talking about the places they wanted to visit one day.",
    ];
}
