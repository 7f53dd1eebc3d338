namespace CnnFixations.Captioning;

/// <summary>
/// The gradient of one word's logit with respect to the image feature vector, back through the LSTM
/// decoder in time (for the per-word Grad-CAM baseline; the fixations themselves use no gradient).
/// Computed in double precision from the same step values the walk reads.
/// </summary>
public static class CaptionGradient
{
    /// <param name="steps">Every decoder step run so far, in order (the image step first for first-step entry).</param>
    /// <param name="wordStep">The step whose logits gave the word.</param>
    public static double[] FeatureGradient(LstmDecoder d, IReadOnlyList<LstmStep> steps, int wordStep, int word, ReadOnlySpan<double> feature)
    {
        int n = d.Hidden, e = d.EmbedSize;
        var dh = new double[n];
        var dc = new double[n];
        for (int k = 0; k < n; k++) dh[k] = d.Output.Weight[word * n + k];
        var grad = new double[feature.Length];
        var dz = new double[4 * n];
        for (int t = wordStep; t >= 0; t--)
        {
            var s = steps[t];
            for (int k = 0; k < n; k++)
            {
                double tc = Math.Tanh(s.C[k]);
                double dct = dc[k] + dh[k] * s.O[k] * (1 - tc * tc);
                dz[k] = dct * s.G[k] * s.I[k] * (1 - s.I[k]);              // i
                dz[n + k] = dct * s.CPrev[k] * s.F[k] * (1 - s.F[k]);      // f
                dz[2 * n + k] = dct * s.I[k] * (1 - s.G[k] * s.G[k]);      // g
                dz[3 * n + k] = dh[k] * tc * s.O[k] * (1 - s.O[k]);        // o
                dc[k] = dct * s.F[k];                                      // to c_{t-1}
            }
            var dhPrev = new double[n];
            for (int row = 0; row < 4 * n; row++)
            {
                double g = dz[row];
                if (g == 0) continue;
                for (int j = 0; j < n; j++) dhPrev[j] += d.R[row * n + j] * g;
            }
            if (s.ImagePart != null)
            {
                var img = d.ImageEmbedding!;
                for (int j = 0; j < e; j++)
                {
                    double dx = 0;
                    for (int row = 0; row < 4 * n; row++) dx += d.W[row * e + j] * dz[row];
                    if (img.Tanh) dx *= 1 - s.ImagePart[j] * s.ImagePart[j];
                    for (int m = 0; m < img.In; m++) grad[m] += img.Weight[j * img.In + m] * dx;
                }
            }
            dh = dhPrev;
            if (t == 0)
            {
                if (d.InitialH != null) AddLinear(d.InitialH, dh, feature, grad);
                if (d.InitialC != null) AddLinear(d.InitialC, dc, feature, grad);
            }
        }
        return grad;
    }

    private static void AddLinear(LinearLayer layer, double[] upstream, ReadOnlySpan<double> feature, double[] grad)
    {
        var values = layer.Apply(feature);
        for (int k = 0; k < layer.Out; k++)
        {
            double g = upstream[k] * (layer.Tanh ? 1 - values[k] * values[k] : 1);
            if (g == 0) continue;
            for (int m = 0; m < layer.In; m++) grad[m] += layer.Weight[k * layer.In + m] * g;
        }
    }
}
