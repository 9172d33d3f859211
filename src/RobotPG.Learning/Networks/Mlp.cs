using RobotPG.Numerics;

namespace RobotPG.Learning.Networks;

/// <summary>
/// Multilayer perceptron: tanh hidden layers, linear output. All weights and biases live in one
/// flat parameter array (layer l: W_l as out×in row-major, then b_l) with a gradient array of the
/// same layout, so θ can be read and written as one span. Every buffer is allocated here, sized by
/// <see cref="MaxBatch"/>; the forward, backward and Jacobian-vector passes allocate nothing.
/// Batch passes cache the activations of the latest <see cref="ForwardBatch"/> for the backward.
/// </summary>
public sealed class Mlp
{
    private readonly int[] _sizes;          // input, hidden..., output
    private readonly int[] _weightOffsets;  // absolute offsets into the parameter storage
    private readonly int[] _biasOffsets;
    private readonly float[] _parameters;
    private readonly float[] _gradients;
    private readonly int _offset;
    private readonly float[][] _single;       // single-sample activations, layers 1..L
    private readonly float[][] _activations;  // batch activations, layers 0..L (0 = copied input)
    private readonly float[][] _tangents;     // batch forward-mode tangents, layers 1..L
    private readonly float[] _deltaA;
    private readonly float[] _deltaB;
    private int _cachedCount;

    /// <summary>Creates the network with its own parameter arrays, orthogonally initialised (gain √2 hidden, <paramref name="outputGain"/> on the output layer), zero biases.</summary>
    public Mlp(int inputSize, ReadOnlySpan<int> hiddenSizes, int outputSize, float outputGain, ref Prng prng, int maxBatch)
        : this(inputSize, hiddenSizes, outputSize, maxBatch,
            new float[CountParameters(inputSize, hiddenSizes, outputSize)],
            new float[CountParameters(inputSize, hiddenSizes, outputSize)], 0)
    {
        InitializeOrthogonal(outputGain, ref prng);
    }

    /// <summary>
    /// Creates the network as a view into caller-owned storage (<see cref="CountParameters"/> floats
    /// from <paramref name="offset"/> in both arrays). Parameters are left as they are.
    /// </summary>
    public Mlp(int inputSize, ReadOnlySpan<int> hiddenSizes, int outputSize, int maxBatch,
        float[] parameterStorage, float[] gradientStorage, int offset)
    {
        ArgumentNullException.ThrowIfNull(parameterStorage);
        ArgumentNullException.ThrowIfNull(gradientStorage);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        int count = CountParameters(inputSize, hiddenSizes, outputSize);
        if (offset < 0 || offset > parameterStorage.Length - count || offset > gradientStorage.Length - count)
            throw new ArgumentException($"storage from offset {offset} cannot hold the {count} parameters", nameof(offset));

        _sizes = new int[hiddenSizes.Length + 2];
        _sizes[0] = inputSize;
        hiddenSizes.CopyTo(_sizes.AsSpan(1));
        _sizes[^1] = outputSize;
        int layers = _sizes.Length - 1;
        _weightOffsets = new int[layers];
        _biasOffsets = new int[layers];
        int at = offset, maxWidth = 0;
        for (int l = 0; l < layers; l++)
        {
            _weightOffsets[l] = at;
            at += _sizes[l + 1] * _sizes[l];
            _biasOffsets[l] = at;
            at += _sizes[l + 1];
        }
        foreach (int s in _sizes) maxWidth = Math.Max(maxWidth, s);

        _parameters = parameterStorage;
        _gradients = gradientStorage;
        _offset = offset;
        ParameterCount = count;
        MaxBatch = maxBatch;
        _single = new float[_sizes.Length][];
        _activations = new float[_sizes.Length][];
        _tangents = new float[_sizes.Length][];
        for (int l = 0; l < _sizes.Length; l++)
        {
            _single[l] = new float[_sizes[l]];
            _activations[l] = new float[maxBatch * _sizes[l]];
            _tangents[l] = new float[maxBatch * _sizes[l]];
        }
        _deltaA = new float[maxBatch * maxWidth];
        _deltaB = new float[maxBatch * maxWidth];
    }

    /// <summary>Number of weights and biases of an MLP of these sizes.</summary>
    public static int CountParameters(int inputSize, ReadOnlySpan<int> hiddenSizes, int outputSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputSize, 1);
        int count = 0, previous = inputSize;
        foreach (int h in hiddenSizes)
        {
            if (h < 1) throw new ArgumentOutOfRangeException(nameof(hiddenSizes), h, "hidden sizes must be positive");
            count = checked(count + h * previous + h);
            previous = h;
        }
        return checked(count + outputSize * previous + outputSize);
    }

    public int InputSize => _sizes[0];
    public int OutputSize => _sizes[^1];
    public int ParameterCount { get; }
    public int MaxBatch { get; }

    /// <summary>Number of weight layers (hidden layers + 1).</summary>
    public int LayerCount => _sizes.Length - 1;

    /// <summary>Width of layer <paramref name="index"/>: 0 is the input, <see cref="LayerCount"/> the output.</summary>
    public int LayerSize(int index) => _sizes[index];

    /// <summary>Copies the hidden sizes (length <see cref="LayerCount"/> − 1) into <paramref name="destination"/>.</summary>
    public void CopyHiddenSizes(Span<int> destination) => _sizes.AsSpan(1, _sizes.Length - 2).CopyTo(destination);

    /// <summary>θ, one flat span over all weights and biases.</summary>
    public Span<float> Parameters => _parameters.AsSpan(_offset, ParameterCount);

    /// <summary>∂/∂θ accumulated by <see cref="BackwardBatch(ReadOnlySpan{float}, int)"/>, same layout as <see cref="Parameters"/>.</summary>
    public Span<float> Gradients => _gradients.AsSpan(_offset, ParameterCount);

    /// <summary>Weights of layer <paramref name="layer"/> (out×in, row-major).</summary>
    public Span<float> Weights(int layer) => _parameters.AsSpan(_weightOffsets[layer], _sizes[layer + 1] * _sizes[layer]);

    public Span<float> Biases(int layer) => _parameters.AsSpan(_biasOffsets[layer], _sizes[layer + 1]);

    public void ZeroGradients() => Gradients.Clear();

    /// <summary>Orthogonal weights (gain √2 on hidden layers, <paramref name="outputGain"/> on the output layer) and zero biases.</summary>
    public void InitializeOrthogonal(float outputGain, ref Prng prng)
    {
        for (int l = 0; l < LayerCount; l++)
        {
            float gain = l == LayerCount - 1 ? outputGain : MathF.Sqrt(2f);
            OrthogonalInitialization.Fill(Weights(l), _sizes[l + 1], _sizes[l], gain, ref prng);
            Biases(l).Clear();
        }
    }

    /// <summary>One sample: <paramref name="output"/> = f(<paramref name="input"/>). Does not touch the batch cache.</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output)
    {
        if (input.Length != InputSize) throw new ArgumentException($"input has {input.Length} values, the network takes {InputSize}", nameof(input));
        if (output.Length != OutputSize) throw new ArgumentException($"output has {output.Length} values, the network gives {OutputSize}", nameof(output));
        ReadOnlySpan<float> a = input;
        int last = LayerCount - 1;
        for (int l = 0; l < last; l++)
        {
            Span<float> z = _single[l + 1];
            Kernels.Gemv(Weights(l), _sizes[l + 1], _sizes[l], a, Biases(l), z);
            Kernels.TanhInPlace(z);
            a = z;
        }
        Kernels.Gemv(Weights(last), _sizes[last + 1], _sizes[last], a, Biases(last), output);
    }

    /// <summary>
    /// <paramref name="count"/> samples (rows of <paramref name="inputs"/>, count×InputSize) to
    /// <paramref name="outputs"/> (count×OutputSize); keeps the activations for the backward pass.
    /// </summary>
    public void ForwardBatch(ReadOnlySpan<float> inputs, int count, Span<float> outputs)
    {
        CheckCount(count);
        if (inputs.Length < count * InputSize) throw new ArgumentException("inputs hold fewer than count rows", nameof(inputs));
        if (outputs.Length < count * OutputSize) throw new ArgumentException("outputs hold fewer than count rows", nameof(outputs));
        inputs[..(count * InputSize)].CopyTo(_activations[0]);
        for (int l = 0; l < LayerCount; l++)
        {
            Span<float> z = _activations[l + 1].AsSpan(0, count * _sizes[l + 1]);
            Kernels.LinearForward(_activations[l], count, Weights(l), _sizes[l + 1], _sizes[l], Biases(l), z);
            if (l < LayerCount - 1) Kernels.TanhInPlace(z);
        }
        _activations[^1].AsSpan(0, count * OutputSize).CopyTo(outputs);
        _cachedCount = count;
    }

    /// <summary>Gradients += Σ over the cached batch of (∂f/∂θ)ᵀ·dY, dY being count×OutputSize.</summary>
    public void BackwardBatch(ReadOnlySpan<float> outputGradients, int count) => BackwardBatch(outputGradients, count, Gradients);

    /// <summary>
    /// Like <see cref="BackwardBatch(ReadOnlySpan{float}, int)"/> but accumulates into
    /// <paramref name="parameterGradients"/> (ParameterCount floats, the layout of <see cref="Parameters"/>).
    /// </summary>
    public void BackwardBatch(ReadOnlySpan<float> outputGradients, int count, Span<float> parameterGradients)
    {
        CheckCached(count);
        if (outputGradients.Length < count * OutputSize) throw new ArgumentException("output gradients hold fewer than count rows", nameof(outputGradients));
        if (parameterGradients.Length != ParameterCount) throw new ArgumentException($"gradient span must hold {ParameterCount} floats", nameof(parameterGradients));
        float[] delta = _deltaA, next = _deltaB;
        outputGradients[..(count * OutputSize)].CopyTo(delta);
        for (int l = LayerCount - 1; l >= 0; l--)
        {
            int outSize = _sizes[l + 1], inSize = _sizes[l];
            Kernels.LinearBackwardParameters(delta, count, _activations[l], outSize, inSize,
                parameterGradients.Slice(_weightOffsets[l] - _offset, outSize * inSize),
                parameterGradients.Slice(_biasOffsets[l] - _offset, outSize));
            if (l == 0) break;
            Kernels.LinearBackwardInput(delta, count, Weights(l), outSize, inSize, next);
            Kernels.TanhBackward(_activations[l].AsSpan(0, count * inSize), next.AsSpan(0, count * inSize));
            (delta, next) = (next, delta);
        }
    }

    /// <summary>
    /// Forward-mode derivative over the cached batch: <paramref name="outputTangents"/> (count×OutputSize)
    /// = (∂f/∂θ)·<paramref name="parameterTangent"/> for every sample (a Jacobian-vector product).
    /// </summary>
    public void JacobianVectorProductBatch(ReadOnlySpan<float> parameterTangent, int count, Span<float> outputTangents)
    {
        CheckCached(count);
        if (parameterTangent.Length != ParameterCount) throw new ArgumentException($"tangent must hold {ParameterCount} floats", nameof(parameterTangent));
        if (outputTangents.Length < count * OutputSize) throw new ArgumentException("output tangents hold fewer than count rows", nameof(outputTangents));
        for (int l = 0; l < LayerCount; l++)
        {
            int outSize = _sizes[l + 1], inSize = _sizes[l];
            // dZ = A·dWᵀ + db  (+ dA·Wᵀ after the first layer, whose input is data).
            Span<float> dz = _tangents[l + 1].AsSpan(0, count * outSize);
            Kernels.LinearForward(_activations[l], count,
                parameterTangent.Slice(_weightOffsets[l] - _offset, outSize * inSize), outSize, inSize,
                parameterTangent.Slice(_biasOffsets[l] - _offset, outSize), dz);
            if (l > 0)
            {
                Span<float> scratch = _deltaA.AsSpan(0, count * outSize);
                Kernels.LinearForward(_tangents[l], count, Weights(l), outSize, inSize, ReadOnlySpan<float>.Empty, scratch);
                Kernels.Axpy(1f, scratch, dz);
            }
            if (l < LayerCount - 1)
                Kernels.TanhBackward(_activations[l + 1].AsSpan(0, count * outSize), dz);
        }
        _tangents[^1].AsSpan(0, count * OutputSize).CopyTo(outputTangents);
    }

    /// <summary>Copies θ from a network of the same sizes.</summary>
    public void CopyParametersFrom(Mlp other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!SameShape(other)) throw new ArgumentException("networks have different sizes", nameof(other));
        other.Parameters.CopyTo(Parameters);
    }

    public bool SameShape(Mlp other) => _sizes.AsSpan().SequenceEqual(other._sizes);

    private void CheckCount(int count)
    {
        if (count < 1 || count > MaxBatch)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"batch size must be in 1..{MaxBatch}");
    }

    private void CheckCached(int count)
    {
        CheckCount(count);
        if (count != _cachedCount)
            throw new InvalidOperationException($"the cached forward pass holds {_cachedCount} samples, not {count}: call ForwardBatch first");
    }
}
