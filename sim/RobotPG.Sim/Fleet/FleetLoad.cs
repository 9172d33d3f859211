using System.Diagnostics;
using System.Globalization;
using RobotPG.Controller.Learning;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using RobotPG.Numerics;
using MQTTnet.Protocol;

namespace RobotPG.Sim.Fleet;

/// <summary>
/// Load simulation of a big fleet against a broker: <c>V</c> virtual robots, each its own MQTT client
/// publishing at a real robot's rate (by default 100 Hz transitions in 1-s batches of the balance bot's
/// shape, QoS 1, spread evenly over the second), tagged with the learner's current version, consumed by
/// one learner through the shared subscription. Reports message rate, learner update latency and drops.
/// The transitions are synthetic: this measures the plumbing, not learning.
/// </summary>
public static class FleetLoad
{
    public sealed record Result(int Robots, double Seconds, long Published, long Acknowledged, long Refused, long Received, long Consumed, long Stale,
        long Updates, double MeanUpdateMs, double MaxUpdateMs, long Backlog);

    public static async Task<Result> RunAsync(string broker, int robots, double seconds, int transitionsPerBatch, TextWriter progress, CancellationToken cancel = default)
    {
        using var key = OperatorKey.Generate();
        using var keys = new SignatureVerifier([key.PublicKeyPem]);
        const string fleet = "load";
        var options = new LearningOptions { Algorithm = "ppo", BatchSteps = 1024, ValueHiddenSizes = [64, 64], Seed = 1 };
        var core = new FleetLearnerCore(OnDeviceAlgorithms.Create(options, 4, 2, [64, 64], "balance-bot", offPolicyData: true),
            new OperatorFleetPolicySigner(key, fleet), maxStaleVersions: 4, maxKl: double.PositiveInfinity);
        Func<string, MqttEndpoint> endpoint = id => MqttEndpoint.TryParse(broker, id, out string? error) ?? throw new ArgumentException($"--broker: {error}");
        var learner = new FleetLearner(core, new OperatorFleetPolicyVerifier(keys, fleet), endpoint($"robotpg-load-learner-{Environment.ProcessId}"), fleet);
        var clients = new ResilientMqttClient[robots];
        var topics = new string[robots];
        try
        {
            await learner.StartAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            for (int r = 0; r < robots; r++)
            {
                clients[r] = new ResilientMqttClient(endpoint($"robotpg-load-{r}-{Environment.ProcessId}"), new ResilientMqttClientOptions
                {
                    QueueCapacity = 4, MaxPayloadLength = RolloutBatch.EncodedLength(4, 2, transitionsPerBatch),
                });
                clients[r].Start();
                topics[r] = new Topics($"load-{r}").Rollout;
            }
            foreach (var c in clients)
                if (!await c.WaitConnectedAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false))
                    throw new IOException($"a virtual robot could not connect: {c.LastError}");

            var batch = new RolloutBatch(4, 2, transitionsPerBatch);
            var bytes = new byte[RolloutBatch.EncodedLength(4, 2, transitionsPerBatch)];
            var prng = new Prng(7);
            var obs = new float[4];
            var act = new float[2];
            long published = 0, refused = 0;
            var clock = Stopwatch.StartNew();
            long slots = (long)Math.Round(seconds * robots);
            var lastPrint = Stopwatch.StartNew();
            for (long k = 0; k < slots && !cancel.IsCancellationRequested; k++)
            {
                // Robot k % V publishes its batch at t = k / V seconds: V batches a second, evenly spread.
                double due = (double)k / robots;
                double wait = due - clock.Elapsed.TotalSeconds;
                if (wait > 0.002) await Task.Delay(TimeSpan.FromSeconds(wait), CancellationToken.None).ConfigureAwait(false);
                int r = (int)(k % robots);
                batch.Clear();
                batch.Sequence = (ulong)(k / robots);
                batch.PolicyVersion = core.Version;
                for (int i = 0; i < transitionsPerBatch; i++)
                {
                    for (int j = 0; j < 4; j++) obs[j] = (float)(0.2 * prng.NextGaussian());
                    for (int j = 0; j < 2; j++) act[j] = (float)prng.NextGaussian();
                    batch.TryAdd(obs, act, -2f, 1f, terminated: i == transitionsPerBatch - 1 && r % 2 == 0, truncated: false);
                }
                batch.SetNextObservation(obs);
                int length = batch.Encode(bytes);
                if (clients[r].TryPublish(topics[r], bytes.AsSpan(0, length), MqttQualityOfServiceLevel.AtLeastOnce)) published++;
                else refused++;
                if (lastPrint.Elapsed.TotalSeconds >= 5)
                {
                    lastPrint.Restart();
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{clock.Elapsed.TotalSeconds,5:F1} s] published {published}, learner received {learner.Received}, consumed {core.BatchesConsumed}, stale {core.BatchesStale}, updates {core.Updates} (last {core.LastUpdateMs:F0} ms)"));
                }
            }
            double elapsed = clock.Elapsed.TotalSeconds;
            // Let the acknowledgements and the last deliveries arrive.
            var settle = Stopwatch.StartNew();
            while (settle.Elapsed < TimeSpan.FromSeconds(10) && learner.Received < clients.Sum(c => c.Published)) await Task.Delay(20).ConfigureAwait(false);
            long acked = clients.Sum(c => c.Published);
            long lost = clients.Sum(c => c.DroppedWhileDisconnected + c.PublishFailures);
            long received = learner.Received;
            var result = new Result(robots, elapsed, published, acked, refused + lost, received, core.BatchesConsumed, core.BatchesStale,
                core.Updates, core.MeanUpdateMs, core.MaxUpdateMs, received - core.BatchesConsumed - core.BatchesStale - core.BatchesMalformed);
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{robots} virtual robots × {transitionsPerBatch} transitions/s for {elapsed:F1} s: {acked} batches acknowledged ({acked / elapsed:F1}/s, {acked * bytes.Length / elapsed / 1024:F0} KiB/s), {result.Refused} refused/lost on the robots; learner received {received}, learned from {result.Consumed}, stale {result.Stale}, backlog {result.Backlog}; {result.Updates} updates, mean {result.MeanUpdateMs:F0} ms, max {result.MaxUpdateMs:F0} ms"));
            return result;
        }
        finally
        {
            foreach (var c in clients) if (c is not null) await c.DisposeAsync().ConfigureAwait(false);
            await learner.KillAsync().ConfigureAwait(false);
            await learner.DisposeAsync().ConfigureAwait(false);
        }
    }
}
