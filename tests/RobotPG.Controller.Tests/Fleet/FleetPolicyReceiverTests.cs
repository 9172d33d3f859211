using RobotPG.Controller.Control;
using RobotPG.Controller.Fleet;
using RobotPG.Learning.Networks;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using Xunit;

namespace RobotPG.Controller.Tests.Fleet;

/// <summary>The robot's guards on fleet broadcasts: signature, newer version, finite, KL bound, return regression.</summary>
public sealed class FleetPolicyReceiverTests : IDisposable
{
    private static readonly int[] Hidden = [8];
    private readonly OperatorKey _key = OperatorKey.Generate();
    private readonly SignatureVerifier _keys;
    private readonly GaussianPolicy _initial = new(4, 2, Hidden, maxBatch: 1, seed: 5);
    private readonly RolloutBatch _recent = new(4, 2, 16);

    public FleetPolicyReceiverTests()
    {
        _keys = new SignatureVerifier([_key.PublicKeyPem]);
        for (int i = 0; i < 16; i++) _recent.TryAdd([0.1f * i, -0.2f, 0.05f * i, 0.3f], [0f, 0f], -1f, 1f, false, false);
    }

    public void Dispose()
    {
        _key.Dispose();
        _keys.Dispose();
    }

    private FleetPolicyReceiver Receiver(int evaluationEpisodes = 0, double maxKl = 1.0) =>
        new(new OperatorFleetPolicyVerifier(_keys, "lab"), _initial, null, maxKl, evaluationEpisodes, returnDropMargin: 0.5);

    /// <summary>A broadcast of the initial network with its mean bias shifted by <paramref name="shift"/>.</summary>
    private byte[] Broadcast(ulong version, float shift = 0.01f, OperatorKey? key = null, string fleet = "lab", float poison = 0f)
    {
        var m = new FleetPolicyMessage(4, 2, Hidden, _initial.ParameterCount) { Version = version, HasNormalizer = true, NormalizerCount = 10 };
        _initial.Parameters.CopyTo(m.Parameters);
        m.Parameters[_initial.MeanParameterCount - 1] += shift; // the last output bias
        m.Parameters[0] += poison;
        m.NormalizerVariance.Fill(1.0);
        return new OperatorFleetPolicySigner(key ?? _key, fleet).Sign(m.Encode());
    }

    private static (float[] Action, float LogProb) Mean(ControlPolicy policy)
    {
        var action = new float[2];
        var normalized = new float[4];
        var prng = new RobotPG.Numerics.Prng(1);
        float lp = policy.Act([0.3f, -0.1f, 0.2f, 0.0f], normalized, action, ref prng);
        return (action, lp);
    }

    [Fact]
    public void A_good_broadcast_is_taken_at_the_next_step_and_a_replay_is_not()
    {
        var r = Receiver();
        var exchange = new PolicyExchange(r.InitialPolicy);
        r.Attach(exchange);
        var before = Mean(exchange.AcquireForStep());
        r.Offer(Broadcast(3, shift: 0.5f));
        Assert.Equal(FleetPolicyVerdict.Accepted, r.Pump(_recent));
        Assert.Equal(3UL, r.Version);
        var after = Mean(exchange.AcquireForStep());
        Assert.Equal(1, exchange.Swaps);
        // Same sampling noise, mean moved by the bias shift on the second action.
        Assert.Equal(before.Action[0], after.Action[0], 5);
        Assert.Equal(before.Action[1] + 0.5f, after.Action[1], 4);

        r.Offer(Broadcast(3, shift: 0.2f));
        Assert.Equal(FleetPolicyVerdict.NotNewer, r.Pump(_recent));
        r.Offer(Broadcast(2, shift: 0.2f));
        Assert.Equal(FleetPolicyVerdict.NotNewer, r.Pump(_recent));
        exchange.AcquireForStep();
        Assert.Equal(1, exchange.Swaps);
        Assert.Equal(3UL, r.Version);
    }

    [Fact]
    public void Unsigned_forged_foreign_fleet_corrupt_and_non_finite_broadcasts_are_refused_and_the_robot_keeps_its_policy()
    {
        var r = Receiver();
        var exchange = new PolicyExchange(r.InitialPolicy);
        r.Attach(exchange);
        using var stranger = OperatorKey.Generate();

        r.Offer(Broadcast(1, key: stranger));
        Assert.Equal(FleetPolicyVerdict.BadSignature, r.Pump(_recent));
        r.Offer(Broadcast(1, fleet: "other"));
        Assert.Equal(FleetPolicyVerdict.BadSignature, r.Pump(_recent));
        var body = new FleetPolicyMessage(4, 2, Hidden, _initial.ParameterCount) { Version = 1 }.Encode();
        r.Offer(body);
        Assert.Equal(FleetPolicyVerdict.BadSignature, r.Pump(_recent));
        var tampered = Broadcast(1);
        tampered[^10] ^= 1;
        r.Offer(tampered);
        Assert.Equal(FleetPolicyVerdict.BadSignature, r.Pump(_recent));
        // Signed but another shape.
        var wrongShape = new FleetPolicyMessage(4, 2, [9], new GaussianPolicy(4, 2, [9], 1, 1).ParameterCount) { Version = 1 };
        r.Offer(new OperatorFleetPolicySigner(_key, "lab").Sign(wrongShape.Encode()));
        Assert.Equal(FleetPolicyVerdict.Malformed, r.Pump(_recent));
        r.Offer(Broadcast(1, poison: float.NaN));
        Assert.Equal(FleetPolicyVerdict.NonFinite, r.Pump(_recent));

        Assert.Equal(0UL, r.Version);
        Assert.Same(r.InitialPolicy, exchange.AcquireForStep());
        Assert.Equal(0, exchange.Swaps);
        Assert.Equal(4, r.Count(FleetPolicyVerdict.BadSignature));
    }

    [Fact]
    public void A_policy_too_far_from_the_running_one_is_refused_by_the_kl_bound()
    {
        // Shifting one action mean by δ with σ = 1 gives KL = δ²/2 exactly on every observation.
        var r = Receiver(maxKl: 0.1);
        var exchange = new PolicyExchange(r.InitialPolicy);
        r.Attach(exchange);
        r.Offer(Broadcast(1, shift: 0.5f)); // KL 0.125
        Assert.Equal(FleetPolicyVerdict.KlBound, r.Pump(_recent));
        r.Offer(Broadcast(2, shift: 0.4f)); // KL 0.08
        Assert.Equal(FleetPolicyVerdict.Accepted, r.Pump(_recent));
        Assert.Equal(2UL, r.Version);
    }

    [Fact]
    public void A_policy_whose_episodes_return_less_is_rolled_back_to_the_last_good_one()
    {
        var r = Receiver(evaluationEpisodes: 2);
        var exchange = new PolicyExchange(r.InitialPolicy);
        r.Attach(exchange);
        var initial = Mean(exchange.AcquireForStep());
        r.OnEpisode(100);
        r.OnEpisode(100);
        r.Offer(Broadcast(1, shift: 0.3f));
        Assert.Equal(FleetPolicyVerdict.Accepted, r.Pump(_recent));
        Assert.Equal(initial.Action[1] + 0.3f, Mean(exchange.AcquireForStep()).Action[1], 4);
        r.OnEpisode(20);
        r.OnEpisode(30); // mean 25 < 100 − 0.5·100
        Assert.Equal(1, r.Count(FleetPolicyVerdict.ReturnDrop));
        Assert.Equal(0UL, r.GoodVersion);
        // The robot runs version 0 again (its batches say so); version 1 stays the one a broadcast must beat.
        Assert.Equal(0UL, r.RunningVersion);
        Assert.Equal(1UL, r.Version);
        Assert.Equal(initial.Action[1], Mean(exchange.AcquireForStep()).Action[1], 5);
        // A newer broadcast is judged afresh; one that holds its return becomes the good version.
        r.Offer(Broadcast(2, shift: 0.1f));
        Assert.Equal(FleetPolicyVerdict.Accepted, r.Pump(_recent));
        exchange.AcquireForStep();
        r.OnEpisode(90);
        r.OnEpisode(95);
        Assert.Equal(2UL, r.GoodVersion);
        Assert.Equal(2UL, r.RunningVersion);
    }

    [Fact]
    public void A_broadcast_arriving_before_the_loop_took_the_last_one_waits_for_it_instead_of_being_lost()
    {
        var r = Receiver();
        var exchange = new PolicyExchange(r.InitialPolicy);
        r.Attach(exchange);
        var before = Mean(exchange.AcquireForStep());
        r.Offer(Broadcast(1, shift: 0.1f));
        Assert.Equal(FleetPolicyVerdict.Accepted, r.Pump(_recent));
        r.Offer(Broadcast(2, shift: 0.3f)); // the loop is still on version 0
        Assert.Null(r.Pump(_recent));
        Assert.Equal(1UL, r.Version);
        Assert.Equal(before.Action[1] + 0.1f, Mean(exchange.AcquireForStep(7)).Action[1], 4);
        Assert.Equal(FleetPolicyVerdict.Accepted, r.Pump(_recent));
        Assert.Equal(2UL, r.Version);
        Assert.Equal(before.Action[1] + 0.3f, Mean(exchange.AcquireForStep(8)).Action[1], 4);
        // The swap history names the version each policy carried from the step it ran.
        Assert.True(exchange.TryGetSwap(0, out long step, out ulong version));
        Assert.Equal((7L, 1UL), (step, version));
        Assert.True(exchange.TryGetSwap(1, out step, out version));
        Assert.Equal((8L, 2UL), (step, version));
    }

    [Fact]
    public void Judging_a_broadcast_never_disturbs_the_policy_the_loop_samples_from()
    {
        // The KL guard evaluates the running policy on recent observations while the control thread samples from it.
        // If the guard used the loop's own network, its forward pass would overwrite the scratch the loop's forward
        // pass is reading, and the loop would act with a mean no policy gives. Every sampled action's log-prob is
        // recomputed here under the parameters of the version the loop ran.
        var recent = new RolloutBatch(4, 2, 256);
        for (int i = 0; i < 256; i++) recent.TryAdd([0.01f * i, -0.2f, 0.005f * i, 0.3f], [0f, 0f], -1f, 1f, false, false);
        var r = Receiver(maxKl: 10);
        var exchange = new PolicyExchange(r.InitialPolicy);
        r.Attach(exchange);
        const int Versions = 60;
        var samples = new List<(ulong Version, float[] Observation, float[] Action, float LogProb)>();
        bool done = false;
        var loop = new Thread(() =>
        {
            var prng = new RobotPG.Numerics.Prng(3);
            var normalized = new float[4];
            for (long step = 0; !Volatile.Read(ref done); step++)
            {
                var policy = exchange.AcquireForStep(step);
                float[] observation = [0.001f * (step % 500), 0.2f, -0.1f, 0.05f], action = new float[2];
                float logProb = policy.Act(observation, normalized, action, ref prng);
                if (step % 7 == 0) samples.Add((policy.Version, observation, action, logProb));
            }
        });
        loop.Start();
        for (ulong v = 1; v <= Versions; v++)
        {
            r.Offer(Broadcast(v, shift: 0.05f * v));
            while (r.Pump(recent) is not { } verdict) Thread.Yield(); // the loop has not taken the last one yet
            Assert.Equal(v, r.Version);
        }
        Volatile.Write(ref done, true);
        loop.Join();

        var reference = new GaussianPolicy(4, 2, Hidden, maxBatch: 1, seed: 1);
        int checkedSamples = 0;
        foreach (var (version, observation, action, logProb) in samples)
        {
            _initial.Parameters.CopyTo(reference.Parameters);
            if (version > 0) reference.Parameters[_initial.MeanParameterCount - 1] += 0.05f * version;
            // Broadcasts carry an identity normaliser (mean 0, variance 1): observations pass through scaled by 1/sqrt(1 + 1e-8).
            Assert.Equal(reference.LogProb(observation, action), logProb, 3e-4);
            checkedSamples++;
        }
        Assert.True(checkedSamples > Versions, $"{checkedSamples} samples");
    }
}
