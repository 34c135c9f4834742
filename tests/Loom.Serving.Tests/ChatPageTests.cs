using Microsoft.Playwright;

namespace Loom.Serving.Tests;

/// <summary>The chat page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): a message gets a streamed reply.</summary>
[Collection("server")]
public sealed class ChatPageTests(ServerFixture f, ChatPageTests.BrowserFixture b) : IClassFixture<ChatPageTests.BrowserFixture>
{
    private const string Chromium = "/usr/bin/chromium";

    /// <summary>One headless Chromium for the class's tests (each test opens its own page).</summary>
    public sealed class BrowserFixture : IAsyncLifetime
    {
        public IPlaywright Playwright { get; private set; } = null!;
        public IBrowser Browser { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install -y chromium (.ci/run does this)");
            Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
            Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
        }

        public async Task DisposeAsync()
        {
            await Browser.CloseAsync();
            Playwright.Dispose();
        }
    }


    [Fact]
    public async Task SendingAMessageStreamsAReplyAndKeepsTheConversation()
    {
        // The page's CSP forbids eval; Playwright's string predicates need it, so the test context bypasses it.
        await using var context = await b.Browser.NewContextAsync(new() { BypassCSP = true });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(f.Url.ToString());
        await page.WaitForSelectorAsync("#model option[value=default]", new() { State = WaitForSelectorState.Attached });
        // Greedy, so the reply (and its length) does not depend on a random seed: a sampled reply could end early.
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#max-tokens", "30");
        await page.FillAsync("#prompt", "Tell me about the lighthouse.");
        await page.ClickAsync("#send");
        // While streaming the bubble is marked; the text grows; at the end it is marked done.
        var bubble = page.Locator(".msg.assistant").First;
        await bubble.WaitForAsync();
        await page.WaitForSelectorAsync(".msg.assistant[data-state=done]", new() { Timeout = 30000 });
        string reply = await bubble.InnerTextAsync();
        Assert.False(string.IsNullOrWhiteSpace(reply), "no reply text");
        Assert.DoesNotContain("Error", reply);
        Assert.Contains("30 tokens", await page.InnerTextAsync("#status"));

        // Second turn: the history goes along, so the server reuses it from the cache.
        await page.FillAsync("#prompt", "And then?");
        await page.PressAsync("#prompt", "Enter");
        await page.WaitForFunctionAsync("document.querySelectorAll('.msg.assistant[data-state=done]').length == 2", null, new() { Timeout = 30000 });
        Assert.Equal(4, await page.Locator(".msg").CountAsync());
        Assert.Matches(@"\(\d+ cached\)", await page.InnerTextAsync("#status"));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task StopButtonAbortsAndMarkdownIsRenderedWithoutInjection()
    {
        // A model slowed to 50 ms a token, so the reply is surely still streaming when Stop is clicked
        // (at full speed it could reach the context limit first, and a finished reply disables the button).
        await using var server = await Hosting.LoomServer.StartAsync(new Hosting.ServerOptions { Port = 0, Parallel = 1 }, [SlowModel.Load(50)]);
        // The page's CSP forbids eval; Playwright's string predicates need it, so the test context bypasses it.
        await using var context = await b.Browser.NewContextAsync(new() { BypassCSP = true });
        var page = await context.NewPageAsync();
        await page.GotoAsync(server.Url.ToString());
        // Model text with HTML in it stays text; markdown becomes fixed tags only.
        string html = await page.EvaluateAsync<string>("renderMarkdown(\"<img src=x onerror=alert(1)> **bold** `a<b`\\n- one\\n- two\\n```\\n<script>x()</script>\\n```\")");
        Assert.DoesNotContain("<img", html);
        Assert.DoesNotContain("<script", html);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", html);
        Assert.Contains("<strong>bold</strong>", html);
        Assert.Contains("<code>a&lt;b</code>", html);
        Assert.Contains("<ul><li>one</li><li>two</li></ul>", html);
        Assert.Contains("<pre><code>&lt;script&gt;x()&lt;/script&gt;</code></pre>", html);

        await page.WaitForSelectorAsync("#model option[value=default]", new() { State = WaitForSelectorState.Attached });
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#max-tokens", "4000");
        await page.FillAsync("#prompt", "Write a long story.");
        await page.ClickAsync("#send");
        await page.WaitForFunctionAsync("document.querySelector('.msg.assistant') && document.querySelector('.msg.assistant').textContent.length > 0", null, new() { Timeout = 30000 });
        await page.ClickAsync("#stop");
        await page.WaitForSelectorAsync(".msg.assistant[data-state=done]", new() { Timeout = 10000 });
        Assert.Equal("Stopped.", await page.InnerTextAsync("#status"));
    }
}
