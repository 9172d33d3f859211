using System.Numerics;
using System.Runtime.CompilerServices;

namespace RobotPG.Numerics;

/// <summary>
/// Seeded, allocation-free pseudo-random generator (xoshiro256** seeded through SplitMix64).
/// A mutable struct: pass it by <c>ref</c>; copying it forks the stream.
/// </summary>
public struct Prng
{
    private ulong _s0, _s1, _s2, _s3;
    private double _spareNormal;
    private bool _hasSpare;

    public Prng(ulong seed)
    {
        // SplitMix64 spreads any seed (even 0) over the whole 256-bit state, as the xoshiro authors recommend.
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
        _spareNormal = 0;
        _hasSpare = false;
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [low, high).</summary>
    public double NextUniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be positive");
        return (int)((NextUInt64() >> 33) * (ulong)n >> 31);
    }

    /// <summary>Standard normal by the Box–Muller transform, both values used.</summary>
    public double NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spareNormal;
        }
        double u1;
        do { u1 = NextDouble(); } while (u1 <= double.Epsilon);
        double u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        double angle = 2.0 * Math.PI * u2;
        _spareNormal = r * Math.Sin(angle);
        _hasSpare = true;
        return r * Math.Cos(angle);
    }

    /// <summary>Words in <see cref="WriteState"/>'s output: the four state words, the spare normal's bits, whether it is held.</summary>
    public const int StateLength = 6;

    /// <summary>The generator's whole state (a checkpoint keeps it so a resumed run draws what the uninterrupted one would).</summary>
    public readonly void WriteState(Span<ulong> state)
    {
        if (state.Length != StateLength) throw new ArgumentException($"the state is {StateLength} words", nameof(state));
        state[0] = _s0;
        state[1] = _s1;
        state[2] = _s2;
        state[3] = _s3;
        state[4] = BitConverter.DoubleToUInt64Bits(_spareNormal);
        state[5] = _hasSpare ? 1UL : 0UL;
    }

    /// <summary>
    /// The generator <see cref="WriteState"/> wrote. Null when the words cannot be one: an all-zero xoshiro state
    /// (it would draw zeros for ever), a held spare that is not finite, a flag other than 0 or 1.
    /// </summary>
    public static Prng? FromState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != StateLength) return null;
        if ((state[0] | state[1] | state[2] | state[3]) == 0 || state[5] > 1) return null;
        double spare = BitConverter.UInt64BitsToDouble(state[4]);
        if (!double.IsFinite(spare)) return null;
        var prng = new Prng(0);
        prng._s0 = state[0];
        prng._s1 = state[1];
        prng._s2 = state[2];
        prng._s3 = state[3];
        prng._spareNormal = spare;
        prng._hasSpare = state[5] == 1;
        return prng;
    }

    /// <summary>Fisher–Yates shuffle in place (minibatch order).</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
