namespace RobotPG.Numerics;

/// <summary>
/// A rows×cols float32 matrix, row-major, over memory allocated once: either its own array or a
/// window into a larger array (a network layer's weights inside one flat parameter vector).
/// </summary>
public sealed class Matrix
{
    private readonly float[] _storage;
    private readonly int _offset;

    public Matrix(int rows, int cols)
        : this(new float[checked(Validate(rows, cols))], 0, rows, cols)
    {
    }

    /// <summary>A view of <paramref name="rows"/>×<paramref name="cols"/> floats of <paramref name="storage"/> starting at <paramref name="offset"/>.</summary>
    public Matrix(float[] storage, int offset, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(storage);
        int length = Validate(rows, cols);
        if (offset < 0 || offset > storage.Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"a {rows}x{cols} view at this offset does not fit in {storage.Length} floats");
        _storage = storage;
        _offset = offset;
        Rows = rows;
        Cols = cols;
    }

    private static int Validate(int rows, int cols)
    {
        if (rows <= 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "must be positive");
        if (cols <= 0) throw new ArgumentOutOfRangeException(nameof(cols), cols, "must be positive");
        return checked(rows * cols);
    }

    public int Rows { get; }
    public int Cols { get; }
    public int Length => Rows * Cols;

    /// <summary>All elements, row-major.</summary>
    public Span<float> Span => _storage.AsSpan(_offset, Rows * Cols);

    public Span<float> Row(int row)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        return _storage.AsSpan(_offset + row * Cols, Cols);
    }

    public float this[int row, int col]
    {
        get => _storage[Index(row, col)];
        set => _storage[Index(row, col)] = value;
    }

    private int Index(int row, int col)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        if ((uint)col >= (uint)Cols) throw new ArgumentOutOfRangeException(nameof(col));
        return _offset + row * Cols + col;
    }

    public void Clear() => Span.Clear();
}
