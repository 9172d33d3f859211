namespace RobotPG.Sim.Robots;

/// <summary>
/// How the IMU's x/y/z axes sit on the body, from the controller config's vocabulary (which IMU
/// axis points forward, which up). Maps vectors in the body frame (forward, left, up — right-handed)
/// to the IMU's axes; the third IMU axis completes a right-handed frame.
/// </summary>
public readonly struct ImuMounting
{
    // For IMU axis a: the body axis it lies along (0 forward, 1 left, 2 up) and the sign.
    private readonly int _bodyX, _bodyY, _bodyZ;
    private readonly double _signX, _signY, _signZ;

    private ImuMounting(Span<int> body, Span<double> sign)
    {
        _bodyX = body[0]; _bodyY = body[1]; _bodyZ = body[2];
        _signX = sign[0]; _signY = sign[1]; _signZ = sign[2];
    }

    /// <summary>Forward +x, up +z: y then points left, pitch (forward lean) is a positive rotation about +y.</summary>
    public static ImuMounting Default
    {
        get
        {
            TryCreate("+x", "+z", out var m);
            return m;
        }
    }

    /// <summary>Null on success; else why the pair of axes is not a mounting.</summary>
    public static string? TryCreate(string forward, string up, out ImuMounting mounting)
    {
        mounting = default;
        if (!TryParseAxis(forward, out int fa, out double sf)) return $"forward: '{forward}' must be one of +x, -x, +y, -y, +z, -z";
        if (!TryParseAxis(up, out int ua, out double su)) return $"up: '{up}' must be one of +x, -x, +y, -y, +z, -z";
        if (fa == ua) return $"forward ({forward}) and up ({up}) must be different IMU axes";
        int k = 3 - fa - ua;
        Span<int> body = stackalloc int[3];
        Span<double> sign = stackalloc double[3];
        body[fa] = 0; sign[fa] = sf;
        body[ua] = 2; sign[ua] = su;
        // e_k = e_fa × e_ua when (fa, ua, k) is cyclic: sf·su·(F × U) = −sf·su·L; otherwise e_ua × e_fa = +sf·su·L.
        bool cyclic = (ua - fa + 3) % 3 == 1;
        body[k] = 1;
        sign[k] = cyclic ? -sf * su : sf * su;
        mounting = new ImuMounting(body, sign);
        return null;
    }

    private static bool TryParseAxis(string text, out int axis, out double sign)
    {
        axis = -1;
        sign = 0;
        if (text is not { Length: 2 } || (text[0] != '+' && text[0] != '-')) return false;
        sign = text[0] == '+' ? 1.0 : -1.0;
        axis = text[1] switch { 'x' => 0, 'y' => 1, 'z' => 2, _ => -1 };
        return axis >= 0;
    }

    /// <summary>The components on the IMU's x, y, z of a body-frame vector (forward, left, up).</summary>
    public (double X, double Y, double Z) ToImu(double forward, double left, double up)
    {
        return (_signX * Pick(_bodyX, forward, left, up), _signY * Pick(_bodyY, forward, left, up), _signZ * Pick(_bodyZ, forward, left, up));

        static double Pick(int index, double f, double l, double u) => index == 0 ? f : index == 1 ? l : u;
    }
}
