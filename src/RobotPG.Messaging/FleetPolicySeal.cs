using RobotPG.Messaging.Security;

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

/// <summary>
/// Fleet broadcasts in the operator's signature envelope (<see cref="SignedMessage.ToEnvelope"/>), audience
/// <c>fleet/{name}</c>, purpose <see cref="SignedMessage.PolicyPurpose"/>. The retained broadcast is read long
/// after it was signed, so freshness is not checked (<see cref="Freshness.NotChecked"/>); replays are harmless
/// because a robot takes only a policy version above the one it runs.
/// </summary>
public sealed class OperatorFleetPolicySigner(OperatorKey key, string fleet) : IFleetPolicySigner
{
    private readonly string _audience = FleetAudience(fleet);

    public static string FleetAudience(string fleet) => "fleet/" + fleet;

    public byte[] Sign(ReadOnlyMemory<byte> body) => key.Sign(_audience, SignedMessage.PolicyPurpose, body).ToEnvelope();
}

/// <inheritdoc cref="OperatorFleetPolicySigner"/>
public sealed class OperatorFleetPolicyVerifier(SignatureVerifier verifier, string fleet) : IFleetPolicyVerifier
{
    private readonly string _audience = OperatorFleetPolicySigner.FleetAudience(fleet);

    public bool TryVerify(ReadOnlyMemory<byte> payload, out ReadOnlyMemory<byte> body, out string? reason)
    {
        body = default;
        var message = SignedMessage.TryParseEnvelope(payload, out _, out reason);
        if (message is null) return false;
        if (verifier.Verify(message, _audience, SignedMessage.PolicyPurpose, Freshness.NotChecked, out reason) != SignatureVerdict.Accepted)
            return false;
        body = message.Body;
        return true;
    }
}
