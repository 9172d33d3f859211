using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;

namespace RobotPG.Sim.Dashboard;

/// <summary>
/// Serves the dashboard page, its vendored chart library and the Server-Sent-Event stream of a
/// <see cref="DashboardHub"/>. HttpListener, not Kestrel: it is part of the base library (nothing added to
/// the sim's AOT publish, no ASP.NET shared framework), trim- and AOT-clean, and a page, two static files
/// and one long-lived event stream per viewer are all this needs.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private static readonly (string Path, string Resource, string ContentType)[] Files =
    [
        ("/", "dashboard.index.html", "text/html; charset=utf-8"),
        ("/uPlot.iife.min.js", "dashboard.uPlot.iife.min.js", "text/javascript; charset=utf-8"),
        ("/uPlot.min.css", "dashboard.uPlot.min.css", "text/css; charset=utf-8"),
    ];

    private readonly HttpListener _listener;
    private readonly DashboardHub _hub;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, byte[]> _files = [];
    private readonly Task _accept;
    private readonly List<Task> _streams = [];

    private DashboardServer(HttpListener listener, DashboardHub hub, IPAddress address, int port)
    {
        _listener = listener;
        _hub = hub;
        Address = address;
        Port = port;
        var assembly = typeof(DashboardServer).Assembly;
        foreach (var (path, resource, _) in Files)
        {
            using var stream = assembly.GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"resource {resource} is missing from the build");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            _files[path] = copy.ToArray();
        }
        _accept = Task.Run(AcceptLoop);
    }

    public IPAddress Address { get; }

    public int Port { get; }

    public string Url => $"http://{(Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Address}]" : Address.ToString())}:{Port}/";

    /// <summary>How often an idle event stream gets a comment line, so proxies and the browser keep it open.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Listens on <paramref name="address"/>:<paramref name="port"/>; port 0 takes a free port (HttpListener
    /// cannot: one is asked of the OS, and asked again if another process took it in between).
    /// </summary>
    public static DashboardServer Start(DashboardHub hub, IPAddress address, int port)
    {
        for (int attempt = 0; ; attempt++)
        {
            int p = port != 0 ? port : FreePort(address);
            var listener = new HttpListener();
            string host = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
            if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) host = "+";
            listener.Prefixes.Add($"http://{host}:{p}/");
            try
            {
                listener.Start();
                return new DashboardServer(listener, hub, address, p);
            }
            catch (HttpListenerException) when (port == 0 && attempt < 5)
            {
                listener.Close();
            }
        }
    }

    private static int FreePort(IPAddress address)
    {
        var probe = new TcpListener(address, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                continue; // one failed accept (a client that went away) is not the server's end
            }
            if (context.Request.Url?.AbsolutePath == "/events")
            {
                var task = Task.Run(() => StreamEvents(context));
                lock (_streams)
                {
                    _streams.RemoveAll(t => t.IsCompleted);
                    _streams.Add(task);
                }
            }
            else
                Serve(context);
        }
    }

    private void Serve(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            string path = context.Request.Url?.AbsolutePath ?? "/";
            var file = Array.Find(Files, f => f.Path == path);
            if (context.Request.HttpMethod != "GET" || file.Path is null)
            {
                response.StatusCode = file.Path is null ? 404 : 405;
                response.Close();
                return;
            }
            byte[] body = _files[path];
            response.ContentType = file.ContentType;
            response.Headers["Cache-Control"] = "no-cache";
            response.Headers["X-Content-Type-Options"] = "nosniff";
            response.ContentLength64 = body.Length;
            response.OutputStream.Write(body);
            response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The browser went away mid-response: nothing to do.
        }
    }

    private async Task StreamEvents(HttpListenerContext context)
    {
        var response = context.Response;
        using var page = _hub.OpenPage();
        try
        {
            response.ContentType = "text/event-stream; charset=utf-8";
            response.Headers["Cache-Control"] = "no-cache";
            response.SendChunked = true;
            var output = response.OutputStream;
            await Write(output, "retry: 2000\n\n").ConfigureAwait(false);
            foreach (string line in page.Backlog)
                await Write(output, line).ConfigureAwait(false);
            await output.FlushAsync(_stop.Token).ConfigureAwait(false);
            while (!_stop.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                wait.CancelAfter(Heartbeat);
                string line;
                try
                {
                    line = await page.Live.ReadAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                {
                    line = ": heartbeat\n\n";
                }
                await Write(output, line).ConfigureAwait(false);
                while (page.Live.TryRead(out string? more))
                    await Write(output, more).ConfigureAwait(false);
                await output.FlushAsync(_stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            // The page closed, or the server is stopping.
        }
        finally
        {
            try { response.Abort(); } catch (ObjectDisposedException) { }
        }

        async Task Write(Stream output, string text) => await output.WriteAsync(Encoding.UTF8.GetBytes(text), _stop.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept.ConfigureAwait(false);
        Task[] streams;
        lock (_streams) streams = [.. _streams];
        await Task.WhenAll(streams).ConfigureAwait(false);
        _listener.Close();
        _stop.Dispose();
    }
}
