using Verification.Engine.Tokenizers;

namespace Verification.Fixtures.Prompts;

/// <summary>Plain sentences written in the compiled zoo's 64-word vocabulary: its "real text".</summary>
public static class ZooText
{
    public const string Text =
        "the cat sat on the mat . the dog ran in the park , then he went home .\n" +
        "Mary saw a big red ball ; she gave it to John !\n" +
        "When Alice and Bob went to the store , Bob gave a drink to Alice .\n" +
        "it was a big day : they went to the park and saw the dog .\n" +
        "we sat in the park on Monday , then we went home on Tuesday .\n" +
        "is the cat on the mat ? the cat is on the mat .\n" +
        "Carol gave the ball to Dave and Dave gave it to Eve .\n" +
        "then the red dog ran home , and the big cat sat .\n" +
        "Frank saw Mary in the store on Friday ; she saw Frank then .\n" +
        "the dog was red , the ball was red , and the mat was red !\n" +
        "When John and Mary went to the park , John gave a ball to Mary .\n" +
        "he ran , she ran , they ran : it was a day in the park .\n" +
        "the big dog saw the red cat ; the cat ran to the store .\n" +
        "on Wednesday Bob went home , and on Thursday he went to the park .\n" +
        "Eve gave a ball to the dog , then the dog ran in the park !\n" +
        "was it a cat ? it was a cat , and it sat on a red mat .\n" +
        "When Carol and Eve went to the park , Eve gave a ball to Carol .\n" +
        "they saw a big store , then they went in and saw John .\n" +
        "the day was red : the park was red , the store was red .\n" +
        "Dave sat on the mat and the cat sat on Dave .\n" +
        "we went to the park on Saturday and went home on Sunday .\n" +
        "Alice gave a drink to Frank ; Frank gave a drink to Mary .\n" +
        "it is a big ball , it is a red ball , and it is a ball !\n" +
        "then she went to the store , and he went to the park .\n" +
        "is the dog in the park ? the dog is home .\n" +
        "the cat and the dog ran to the mat , then they sat .\n" +
        "When Bob and Frank went to the store , Frank gave a drink to Bob .\n" +
        "John saw the cat , Mary saw the dog , and we saw the ball .\n" +
        "a red ball , a big ball , a ball in the park .\n" +
        "on Monday it was a big day , on Friday it was a red day .\n" +
        "she sat , he sat , they sat : then we went home .\n";

    /// <summary>
    /// The text as prompts of whole lines, each as long as fits in <paramref name="maxTokens"/> with BOS first, so that a
    /// head attending uniformly gives A[q, 0] well under the BOS threshold (mean of 1/(q+1) ≈ 0.05 at 100 tokens).
    /// </summary>
    public static IReadOnlyList<int[]> Prompts(WordTokenizer tokenizer, int maxTokens = 110)
    {
        var prompts = new List<int[]>();
        var current = new List<int>();
        foreach (var line in Text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var ids = tokenizer.EncodeWithoutBos(line + "\n");
            if (current.Count > 0 && current.Count + ids.Length + 1 > maxTokens)
            {
                prompts.Add([tokenizer.Bos!.Value, .. current]);
                current.Clear();
            }
            current.AddRange(ids);
        }
        if (current.Count > 0) prompts.Add([tokenizer.Bos!.Value, .. current]);
        return prompts;
    }
}
