namespace RobotPG.Learning.Advantages;

/// <summary>
/// Advantage standardisation, a variance device outside the notes that CleanRL and the note-algorithms'
/// options share: in place, A ← (A − mean A)/(std A + 1e-8), std with Bessel's correction as torch's
/// <c>.std()</c>. A single sample has no spread; it is centred only (torch gives NaN there); an empty span is left
/// as it is (the loops do not run). Sums in double.
/// </summary>
public static class AdvantageStandardization
{
    public static void Standardize(Span<float> advantages)
    {
        int n = advantages.Length;
        double mean = 0;
        foreach (float a in advantages) mean += a;
        mean /= n;
        double ss = 0;
        foreach (float a in advantages) ss += (a - mean) * (a - mean);
        double divisor = n > 1 ? Math.Sqrt(ss / (n - 1)) + 1e-8 : 1.0;
        for (int i = 0; i < n; i++) advantages[i] = (float)((advantages[i] - mean) / divisor);
    }
}
