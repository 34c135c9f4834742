using Loom.Serving.Hosting;

namespace Loom.Serving.Tests;

/// <summary>The load test's check that batching does not change what a request gets.</summary>
[Collection("server")]
public sealed class LoadTestTests(ServerFixture f)
{
    [Fact]
    public async Task EveryResponseUnderLoadEqualsALoneRequestWithTheSameSeed()
    {
        var r = await LoadTest.RunAsync(f.Url, clients: 8, requests: 24, maxTokens: 24, verify: 1000);
        Assert.Equal(0, r.Errors);
        Assert.Equal(24, r.Requests);
        Assert.Equal(24, r.Verified);
        Assert.True(r.Mismatches == 0, string.Join("\n", r.MismatchSamples ?? []));
        Assert.True(r.Tokens > 0);
    }

    [Fact]
    public async Task AResponseThatDiffersFromTheLoneRequestIsAMismatch()
    {
        // What a lone request returns, presented once as recorded and then with its text, length or finish reason
        // changed: only the first may verify.
        var real = await LoadTest.LoneAsync(f.Http, null, "Tell me a story.", 5, 12);
        var good = new LoadTestResponse("Tell me a story.", 5, 12, real.Text, real.FinishReason, real.CompletionTokens);
        var (verified, mismatches, _) = await LoadTest.VerifyAsync(f.Http, null,
            [good, good with { Text = real.Text + "x" }, good with { CompletionTokens = real.CompletionTokens - 1 }, good with { FinishReason = real.FinishReason == "stop" ? "length" : "stop" }]);
        Assert.Equal(4, verified);
        Assert.Equal(3, mismatches);
    }
}
