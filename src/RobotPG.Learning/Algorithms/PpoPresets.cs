namespace RobotPG.Learning.Algorithms;

/// <summary>
/// PPO settings per task. Unknown tasks get CleanRL's defaults; the tuned ones are documented next to
/// their values (what was changed and why).
/// </summary>
public static class PpoPresets
{
    public static PpoHyperparameters For(string environmentName) => environmentName switch
    {
        // Pendulum-v1: γ 0.99 credits too far ahead for a 200-step swing-up with dense cost (CleanRL's default
        // does not solve it); the SB3 zoo's γ 0.9, several envs and lr 1e-3 do. 8 envs × 256 steps = 2048 per
        // update, 10 epochs of 64-sample minibatches.
        "pendulum" => new PpoHyperparameters
        {
            EnvironmentCount = 8,
            StepsPerEnvironment = 256,
            Minibatches = 32,
            Epochs = 10,
            Gamma = 0.9,
            GaeLambda = 0.95,
            LearningRate = 1e-3f,
        },
        // CartPole (continuous force): short horizon to balance, reward +1 per step; more envs and a larger
        // learning rate than the defaults reach 500 well within 100k steps.
        "cartpole" => new PpoHyperparameters
        {
            EnvironmentCount = 4,
            StepsPerEnvironment = 512,
            Minibatches = 32,
            Epochs = 10,
            Gamma = 0.99,
            GaeLambda = 0.95,
            LearningRate = 1e-3f,
        },
        _ => new PpoHyperparameters(),
    };
}
