using System.CommandLine;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;

namespace RobotPG.Sim.Cli;

/// <summary>
/// The connection options every verb that talks to an external broker shares: TLS trust, client certificate,
/// credentials file and protocol version (the same settings as the robot config's "mqtt" section).
/// </summary>
internal sealed class BrokerConnectionOptions
{
    private readonly Option<string?> _caFile = new("--ca-file") { Description = "PEM CA certificate the broker's certificate must chain to (mqtts://)." };
    private readonly Option<string?> _cert = new("--cert") { Description = "PEM client certificate for mutual TLS (with --cert-key)." };
    private readonly Option<string?> _certKey = new("--cert-key") { Description = "PEM private key of --cert." };
    private readonly Option<string?> _credentials = new("--credentials") { Description = "File with username= and password= lines (mode 0600)." };
    private readonly Option<string> _version = new("--mqtt-version") { Description = "5 or 3.1.1.", DefaultValueFactory = _ => "5" };

    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { _caFile, _cert, _certKey, _credentials, _version }) command.Options.Add(o);
    }

    /// <summary>The first of these options given on the command line, or null.</summary>
    public string? Given(ParseResult parse)
    {
        foreach (var (name, given) in new[] { ("--ca-file", parse.GetResult(_caFile)), ("--cert", parse.GetResult(_cert)), ("--cert-key", parse.GetResult(_certKey)),
                     ("--credentials", parse.GetResult(_credentials)), ("--mqtt-version", parse.GetResult(_version)) })
            if (given is { Implicit: false }) return name;
        return null;
    }

    /// <summary>The credentials file given (a robot config names the file, not its contents).</summary>
    public string? CredentialsFile(ParseResult parse) => parse.GetValue(_credentials) is { } file ? Path.GetFullPath(file) : null;

    /// <summary>The endpoint with these options applied; null and a one-line <paramref name="problem"/> on bad input.</summary>
    public MqttEndpoint? Apply(ParseResult parse, MqttEndpoint endpoint, out string? problem)
    {
        problem = null;
        string? ca = parse.GetValue(_caFile), cert = parse.GetValue(_cert), certKey = parse.GetValue(_certKey), credentials = parse.GetValue(_credentials);
        foreach (var (name, file) in new[] { ("--ca-file", ca), ("--cert", cert), ("--cert-key", certKey), ("--credentials", credentials) })
        {
            if (file is not null && !File.Exists(file))
            {
                problem = $"{name}: file not found: {file}";
                return null;
            }
        }
        if ((cert is null) != (certKey is null))
        {
            problem = "--cert and --cert-key go together";
            return null;
        }
        MqttProtocol protocol;
        switch (parse.GetValue(_version))
        {
            case "5": protocol = MqttProtocol.V5; break;
            case "3.1.1": protocol = MqttProtocol.V311; break;
            default:
                problem = $"--mqtt-version: '{parse.GetValue(_version)}' must be 5 or 3.1.1";
                return null;
        }
        string? user = endpoint.UserName, password = endpoint.Password;
        if (credentials is not null)
        {
            try
            {
                (user, password) = MqttCredentials.Load(credentials);
            }
            catch (InvalidDataException e)
            {
                problem = "--credentials: " + e.Message;
                return null;
            }
        }
        return endpoint with
        {
            UserName = user, Password = password, CaFile = ca, ClientCertificateFile = cert, ClientKeyFile = certKey, Protocol = protocol,
            UseTls = endpoint.UseTls || ca is not null,
        };
    }
}
