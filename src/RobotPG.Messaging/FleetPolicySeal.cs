namespace RobotPG.Messaging;

/// <summary>The learner side of a fleet policy broadcast: wraps a <see cref="FleetPolicyMessage"/> body in the operator's signature.</summary>
public interface IFleetPolicySigner
{
    byte[] Sign(ReadOnlyMemory<byte> body);
}

/// <summary>The robot side: checks the signature of a broadcast and hands out the signed body, or says in one line why not.</summary>
public interface IFleetPolicyVerifier
{
    bool TryVerify(ReadOnlyMemory<byte> payload, out ReadOnlyMemory<byte> body, out string? reason);
}
