using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Numerics.Tests;

public class MatrixTests
{
    [Fact]
    public void View_addresses_its_window_row_major()
    {
        var storage = new float[20];
        var m = new Matrix(storage, 5, 3, 4);
        m[2, 1] = 7f;
        Assert.Equal(7f, storage[5 + 2 * 4 + 1]);
        m.Row(1)[3] = 9f;
        Assert.Equal(9f, storage[5 + 4 + 3]);
        Assert.Equal(12, m.Span.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Matrix(storage, 9, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => m[3, 0]);
    }
}
