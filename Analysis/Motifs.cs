using MathNet.Numerics.LinearAlgebra;
using Verification.Engine.Models;

namespace Verification.Analysis;

/// <summary>One head's pattern on one prompt, described by named numbers.</summary>
public sealed record MotifSample(string Head, string Prompt, IReadOnlyDictionary<string, double> Features);

/// <summary>A clustering of heads: the merge order of average linkage, and labels for a chosen number of clusters.</summary>
public sealed record Dendrogram(IReadOnlyList<string> Heads, IReadOnlyList<(int A, int B, double Distance, int Size)> Merges)
{
    /// <summary>Cluster labels (0..k−1, numbered by first appearance) when the tree is cut into k clusters.</summary>
    public int[] Cut(int clusters)
    {
        var n = Heads.Count;
        if (clusters < 1 || clusters > n) throw new ArgumentException($"Cannot cut {n} heads into {clusters} clusters.");
        var parent = Enumerable.Range(0, 2 * n).ToArray();
        int Find(int x) => parent[x] == x ? x : parent[x] = Find(parent[x]);
        for (var m = 0; m < n - clusters; m++)
        {
            var (a, b, _, _) = Merges[m];
            parent[Find(a)] = n + m;
            parent[Find(b)] = n + m;
        }
        var roots = new Dictionary<int, int>();
        return [.. Enumerable.Range(0, n).Select(i =>
        {
            var root = Find(i);
            if (!roots.TryGetValue(root, out var label)) roots[root] = label = roots.Count;
            return label;
        })];
    }
}

/// <summary>
/// Attention motifs (mivanit/attention-motifs): a feature vector per head and prompt — the statistics of its
/// diagonal and first column, and of the 32-bin density histograms over [0, 1] of its Gram matrices A·Aᵀ and Aᵀ·A
/// and of the cosine similarities of its rows and of its columns — then constant or missing features dropped,
/// z-scores, PCA to 16 components, head distance = mean over shared prompts of the Euclidean distance between the
/// two heads' PCA vectors, and average-linkage clustering.
/// </summary>
public static class Motifs
{
    /// <summary>Every head of every prompt, named "{model}:L{l}H{h}".</summary>
    public static IEnumerable<MotifSample> Samples(string model, IEnumerable<(string Prompt, AttentionPatterns Patterns)> prompts)
    {
        foreach (var (name, p) in prompts)
            for (var l = 0; l < p.LayerCount; l++)
                for (var h = 0; h < p.HeadCount; h++)
                    yield return new MotifSample($"{model}:{HeadScores.Name(l, h)}", name, PatternFeatures(p.Matrix(l, h)));
    }

    /// <summary>The source's vec_features of a 1-D array: 11 distribution and 6 time-series statistics.</summary>
    public static Dictionary<string, double> VectorFeatures(double[] x)
    {
        var n = x.Length;
        var mean = x.Average();
        var variance = n > 1 ? x.Sum(v => (v - mean) * (v - mean)) / (n - 1) : double.NaN;
        var m2 = x.Sum(v => (v - mean) * (v - mean)) / n;
        var m3 = x.Sum(v => Math.Pow(v - mean, 3)) / n;
        var m4 = x.Sum(v => Math.Pow(v - mean, 4)) / n;
        var energy = x.Sum(v => v * v);
        var features = new Dictionary<string, double>
        {
            ["mean"] = mean,
            ["median"] = Median(x),
            ["variance"] = variance,
            ["std"] = Math.Sqrt(variance),
            // scipy.stats skew/kurtosis with bias=True (population moments), kurtosis in Fisher's (excess) form.
            ["skewness"] = m2 > 0 ? m3 / Math.Pow(m2, 1.5) : double.NaN,
            ["kurtosis"] = m2 > 0 ? m4 / (m2 * m2) - 3 : double.NaN,
            ["entropy"] = HistogramEntropy(x),
            ["L1_norm"] = x.Sum(Math.Abs) / n,
            ["L2_norm"] = Math.Sqrt(energy) / n,
            ["rms"] = Math.Sqrt(energy / n),
            ["energy"] = energy,
        };
        var signChanges = 0;
        for (var i = 1; i < n; i++)
            if (double.IsNegative(x[i]) != double.IsNegative(x[i - 1])) signChanges++;
        features["zero_crossing_rate"] = n > 1 ? (double)signChanges / (n - 1) : double.NaN;
        features["autocorr_lag1"] = n > 2 ? LagOneAutocorrelation(x) : double.NaN;
        features["psd_total_power"] = WelchTotalPower(x);
        var (slope, intercept, r2) = LinearFit(x);
        features["linreg.slope"] = slope;
        features["linreg.intercept"] = intercept;
        features["linreg.r2"] = r2;
        return features;
    }

    /// <summary>The features of one head's pattern on one prompt (an n×n row-stochastic matrix).</summary>
    public static Dictionary<string, double> PatternFeatures(double[,] a)
    {
        var n = a.GetLength(0);
        var features = new Dictionary<string, double>();
        void Add(string prefix, Dictionary<string, double> f)
        {
            foreach (var (k, v) in f) features[prefix + "." + k] = v;
        }
        Add("diag", VectorFeatures([.. Enumerable.Range(0, n).Select(i => a[i, i])]));
        Add("first_tok", VectorFeatures([.. Enumerable.Range(0, n).Select(i => a[i, 0])]));
        var m = Matrix<double>.Build.DenseOfArray(a);
        Add("gram.row", VectorFeatures(Histogram(m * m.Transpose())));
        Add("gram.col", VectorFeatures(Histogram(m.Transpose() * m)));
        Add("cos.row", VectorFeatures(Histogram(Matrix<double>.Build.DenseOfArray(PatternMetrics.RowCosine(a)))));
        Add("cos.col", VectorFeatures(Histogram(Matrix<double>.Build.DenseOfArray(PatternMetrics.RowCosine(m.Transpose().ToArray())))));
        return features;
    }

    /// <summary>numpy.histogram(values, 32 bins over [0, 1], density=True): counts / (total · bin width); out-of-range values are not counted.</summary>
    public static double[] Histogram(Matrix<double> values, int bins = 32)
    {
        var counts = new double[bins];
        var total = 0;
        foreach (var v in values.Enumerate())
        {
            var x = double.IsNaN(v) ? 0.5 : v;
            if (x < 0 || x > 1) continue;
            var bin = Math.Min(bins - 1, (int)(x * bins));
            counts[bin]++;
            total++;
        }
        var width = 1.0 / bins;
        return [.. counts.Select(c => total > 0 ? c / (total * width) : 0)];
    }

    static double Median(double[] x)
    {
        var sorted = x.Order().ToArray();
        var n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>scipy.stats.entropy (base 2) of numpy.histogram(x, bins=min(10, n)) counts, the range being [min, max].</summary>
    static double HistogramEntropy(double[] x)
    {
        var n = x.Length;
        var bins = n >= 10 ? 10 : n;
        double lo = x.Min(), hi = x.Max();
        if (lo == hi)
        {
            lo -= 0.5;
            hi += 0.5;
        }
        // numpy.histogram's uniform-bin assignment: index from the scaled value, then corrected against the
        // linspace edges, so values on an edge land where numpy puts them.
        var edges = new double[bins + 1];
        var step = (hi - lo) / bins;
        for (var i = 0; i <= bins; i++) edges[i] = i * step + lo;
        edges[bins] = hi;
        var norm = bins / (hi - lo);
        var counts = new double[bins];
        foreach (var v in x)
        {
            var bin = (int)((v - lo) * norm);
            if (bin == bins) bin--;
            if (v < edges[bin]) bin--;
            else if (v >= edges[bin + 1] && bin != bins - 1) bin++;
            counts[bin]++;
        }
        var total = counts.Sum();
        return -counts.Where(c => c > 0).Sum(c => c / total * Math.Log2(c / total));
    }

    static double LagOneAutocorrelation(double[] x)
    {
        var a = x[..^1];
        var b = x[1..];
        return StandardDeviation(a) > 0 && StandardDeviation(b) > 0 ? PatternMetrics.Pearson(a, b) : 0;
    }

    static double StandardDeviation(double[] x)
    {
        var mean = x.Average();
        return Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / x.Length);
    }

    /// <summary>
    /// Σ of scipy.signal.welch(x, nperseg=n): one Hann-windowed, mean-detrended segment, density scaling (fs = 1),
    /// one-sided (interior frequencies doubled).
    /// </summary>
    public static double WelchTotalPower(double[] x)
    {
        var n = x.Length;
        if (n < 2) return double.NaN;
        var mean = x.Average();
        // scipy's periodic Hann window (sym=False).
        var window = Enumerable.Range(0, n).Select(i => 0.5 - 0.5 * Math.Cos(2 * Math.PI * i / n)).ToArray();
        var scale = 1.0 / window.Sum(w => w * w);
        double total = 0;
        for (var f = 0; f <= n / 2; f++)
        {
            double re = 0, im = 0;
            for (var t = 0; t < n; t++)
            {
                var v = (x[t] - mean) * window[t];
                re += v * Math.Cos(2 * Math.PI * f * t / n);
                im -= v * Math.Sin(2 * Math.PI * f * t / n);
            }
            var power = (re * re + im * im) * scale;
            var interior = f > 0 && !(n % 2 == 0 && f == n / 2);
            total += interior ? 2 * power : power;
        }
        return total;
    }

    /// <summary>scipy.stats.linregress of x against 0..n−1: slope, intercept and r² (r = 0 when either is constant).</summary>
    static (double Slope, double Intercept, double R2) LinearFit(double[] y)
    {
        var n = y.Length;
        var tMean = (n - 1) / 2.0;
        var yMean = y.Average();
        double stt = 0, sty = 0, syy = 0;
        for (var t = 0; t < n; t++)
        {
            stt += (t - tMean) * (t - tMean);
            sty += (t - tMean) * (y[t] - yMean);
            syy += (y[t] - yMean) * (y[t] - yMean);
        }
        if (stt == 0) return (double.NaN, double.NaN, double.NaN);
        var slope = sty / stt;
        var r = stt > 0 && syy > 0 ? Math.Clamp(sty / Math.Sqrt(stt * syy), -1, 1) : 0;
        return (slope, yMean - slope * tMean, r * r);
    }

    /// <summary>The result of the motif pipeline over samples of many heads.</summary>
    public sealed record Embedding(IReadOnlyList<string> FeatureNames, IReadOnlyList<string> Dropped, IReadOnlyList<MotifSample> Samples,
        double[,] Components, double[] ExplainedVariance, IReadOnlyList<string> Heads, double[,] Distances);

    /// <summary>
    /// Drops constant or missing features, z-scores, projects on the first <paramref name="components"/> principal
    /// components, and computes the head distance matrix.
    /// </summary>
    public static Embedding Embed(IReadOnlyList<MotifSample> samples, int components = 16)
    {
        if (samples.Count < 2) throw new ArgumentException("The motif pipeline needs at least two samples.");
        var names = samples[0].Features.Keys.Order(StringComparer.Ordinal).ToList();
        var kept = new List<string>();
        var dropped = new List<string>();
        foreach (var name in names)
        {
            var values = samples.Select(s => s.Features.TryGetValue(name, out var v) ? v : double.NaN).ToArray();
            if (values.Any(v => !double.IsFinite(v)) || values.Max() - values.Min() <= 1e-12 * Math.Max(1, Math.Abs(values.Max()))) dropped.Add(name);
            else kept.Add(name);
        }
        if (kept.Count == 0) throw new ArgumentException("Every feature is constant or missing.");
        var x = Matrix<double>.Build.Dense(samples.Count, kept.Count, (i, j) => samples[i].Features[kept[j]]);
        for (var j = 0; j < kept.Count; j++)
        {
            var column = x.Column(j);
            var mean = column.Average();
            var std = Math.Sqrt(column.Sum(v => (v - mean) * (v - mean)) / column.Count);
            x.SetColumn(j, column.Map(v => (v - mean) / std));
        }
        var k = Math.Min(components, Math.Min(samples.Count, kept.Count));
        var svd = x.Svd(computeVectors: true);
        var projected = x * svd.VT.Transpose().SubMatrix(0, kept.Count, 0, k); // [samples, k]
        var singular = svd.S.ToArray();
        var totalVariance = singular.Sum(s => s * s);
        var explained = singular.Take(k).Select(s => s * s / totalVariance).ToArray();
        var heads = samples.Select(s => s.Head).Distinct().ToList();
        var distances = HeadDistances(samples, projected, heads);
        return new Embedding(kept, dropped, samples, projected.ToArray(), explained, heads, distances);
    }

    /// <summary>Mean over prompts both heads have of the Euclidean distance between their PCA vectors.</summary>
    static double[,] HeadDistances(IReadOnlyList<MotifSample> samples, Matrix<double> projected, List<string> heads)
    {
        var index = heads.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => x.i);
        var byHead = new Dictionary<string, int>[heads.Count];
        for (var h = 0; h < heads.Count; h++) byHead[h] = [];
        for (var s = 0; s < samples.Count; s++) byHead[index[samples[s].Head]][samples[s].Prompt] = s;
        var d = new double[heads.Count, heads.Count];
        for (var a = 0; a < heads.Count; a++)
            for (var b = a + 1; b < heads.Count; b++)
            {
                var shared = byHead[a].Keys.Where(byHead[b].ContainsKey).ToList();
                var distance = shared.Count == 0
                    ? double.NaN
                    : shared.Average(p => (projected.Row(byHead[a][p]) - projected.Row(byHead[b][p])).L2Norm());
                d[a, b] = d[b, a] = distance;
            }
        return d;
    }

    /// <summary>Average linkage (UPGMA) on a distance matrix; ties merge the lower indices first.</summary>
    public static Dendrogram AverageLinkage(IReadOnlyList<string> heads, double[,] distances)
    {
        var n = heads.Count;
        var clusters = Enumerable.Range(0, n).ToDictionary(i => i, i => new List<int> { i });
        var merges = new List<(int, int, double, int)>();
        var next = n;
        while (clusters.Count > 1)
        {
            var best = (A: -1, B: -1, D: double.PositiveInfinity);
            var ids = clusters.Keys.Order().ToArray();
            for (var i = 0; i < ids.Length; i++)
                for (var j = i + 1; j < ids.Length; j++)
                {
                    var members = from x in clusters[ids[i]] from y in clusters[ids[j]] select distances[x, y];
                    var average = members.Average();
                    if (average < best.D - 1e-12) best = (ids[i], ids[j], average);
                }
            var merged = clusters[best.A].Concat(clusters[best.B]).ToList();
            clusters.Remove(best.A);
            clusters.Remove(best.B);
            clusters[next] = merged;
            merges.Add((best.A, best.B, best.D, merged.Count));
            next++;
        }
        return new Dendrogram(heads, merges);
    }

    /// <summary>Hubert and Arabie's adjusted Rand index between two labelings: 1 for identical partitions, ~0 for chance.</summary>
    public static double AdjustedRandIndex(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count) throw new ArgumentException("Labelings of different lengths.");
        var n = a.Count;
        static double Choose2(double x) => x * (x - 1) / 2;
        var contingency = new Dictionary<(int, int), int>();
        for (var i = 0; i < n; i++) contingency[(a[i], b[i])] = contingency.GetValueOrDefault((a[i], b[i])) + 1;
        var sumCells = contingency.Values.Sum(c => Choose2(c));
        var sumA = a.GroupBy(x => x).Sum(g => Choose2(g.Count()));
        var sumB = b.GroupBy(x => x).Sum(g => Choose2(g.Count()));
        var expected = sumA * sumB / Choose2(n);
        var maximum = (sumA + sumB) / 2;
        return maximum - expected == 0 ? 1 : (sumCells - expected) / (maximum - expected);
    }
}
