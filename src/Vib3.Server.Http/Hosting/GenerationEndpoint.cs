using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Query.Planning;
using Vib3.Server.Http.Api;
using Vib3.Server.Http.Metrics;
using Vib3.Server.Http.Requests;
using Vib3.Server.Http.Responses;

namespace Vib3.Server.Http.Hosting;

/// <summary>POST /v1/completions and /v1/chat/completions: validate, plan as the SQL front ends do, submit to the
/// shared batch, then answer at the end or stream as server-sent events. A client that goes away cancels its
/// generation (disposing the stream frees its KV cache at the next step).</summary>
internal sealed class GenerationEndpoint(Vib3Engine engine, ServerMetrics metrics, Readiness readiness, HttpServerOptions options,
    ApiFlavor flavor, CancellationToken stopping)
{
    private readonly ChatTemplateHeader _chatTemplate = new(Console.Error);

    public async Task HandleAsync(HttpContext ctx)
    {
        readiness.ThrowIfNotReady();
        CompletionRequest request;
        using (var body = await RequestBody.ReadJsonAsync(ctx, options.MaxBodyBytes))
            request = RequestParser.Parse(body.RootElement, flavor);
        var plan = Plan(request);
        // Counted from here, whatever happens next: the model exists, so its name is a safe label.
        var observer = metrics.Observe(plan.Manifest.Name, request.Engine.Choices);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, stopping);
        try
        {
            await using var generation = await engine.Generations.StartAsync(plan, request.Engine, cancel.Token);
            _chatTemplate.Report(ctx, generation.Model, generation.ChatTemplate);
            observer.Started(generation);
            var json = new ResponseJson(flavor, generation.Model);
            if (request.Stream) await StreamAsync(ctx, request, generation, observer, json, cancel.Token);
            else await CompleteAsync(ctx, request, generation, observer, json, cancel.Token);
        }
        catch (Exception) when (!cancel.IsCancellationRequested)
        {
            observer.Failed(); // refused (a full queue, a prompt too long), the model dropped, an engine error
            throw;
        }
        finally
        {
            observer.End(); // a cancelled or failed request is counted too
        }
    }

    private GenerationPlan Plan(CompletionRequest request)
    {
        var plan = engine.Plan(request.Statement);
        return plan with
        {
            MaxTokens = request.MaxTokensGiven || flavor.DefaultMaxTokens is not null
                ? plan.MaxTokens
                : plan.Manifest.Hyper.Context, // "the rest of the context": the engine stops when the context is full
            Sampling = plan.Sampling with { PresencePenalty = request.PresencePenalty, FrequencyPenalty = request.FrequencyPenalty },
        };
    }

    private static async Task CompleteAsync(HttpContext ctx, CompletionRequest request, GenerationStream generation,
        ServerMetrics.GenerationObserver observer, ResponseJson json, CancellationToken ct)
    {
        var n = request.Engine.Choices;
        var texts = Enumerable.Range(0, n).Select(_ => new StringBuilder()).ToArray();
        var logprobs = Enumerable.Range(0, n).Select(_ => new List<TokenLogprob>()).ToArray();
        var finish = new string?[n];
        var completionTokens = 0;
        await foreach (var e in generation.ReadAllAsync(ct))
        {
            observer.Observe(e);
            switch (e)
            {
                case TextDelta d:
                    texts[d.Choice].Append(d.Text);
                    logprobs[d.Choice].AddRange(d.Logprobs);
                    break;
                case ChoiceFinished f:
                    finish[f.Choice] = f.FinishReason;
                    completionTokens += f.CompletionTokens;
                    break;
            }
        }
        ct.ThrowIfCancellationRequested(); // a cancelled stream ends early rather than throwing
        var wantLogprobs = request.Engine.TopLogprobs is not null;
        var choices = Enumerable.Range(0, n).Select(i =>
            new ChoicePart(i, texts[i].ToString(), wantLogprobs ? logprobs[i] : null, finish[i], request.PromptChars));
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(json.Completion(choices, new Usage(generation.PromptTokens, completionTokens)), ct);
    }

    /// <summary>SSE: chat opens each choice with its role, then content deltas as they come, a chunk with the
    /// finish_reason when a choice ends, the usage chunk when asked for, and <c>[DONE]</c>. Each event is flushed.</summary>
    private async Task StreamAsync(HttpContext ctx, CompletionRequest request, GenerationStream generation,
        ServerMetrics.GenerationObserver observer, ResponseJson json, CancellationToken ct)
    {
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var n = request.Engine.Choices;
        var usage = request.IncludeUsage;
        var wantLogprobs = request.Engine.TopLogprobs is not null;
        var offsets = Enumerable.Repeat(request.PromptChars, n).ToArray();
        async Task SendAsync(byte[] jsonEvent)
        {
            await ctx.Response.BodyWriter.WriteAsync(Sse.Event(jsonEvent), ct);
            await ctx.Response.BodyWriter.FlushAsync(ct);
        }

        if (flavor.OpensChoices)
            for (var i = 0; i < n; i++) await SendAsync(json.Chunk(new ChoicePart(i, "", null, null, 0, Role: true), usage));
        var completionTokens = 0;
        await foreach (var e in generation.ReadAllAsync(ct))
        {
            observer.Observe(e);
            switch (e)
            {
                case TextDelta d:
                    await SendAsync(json.Chunk(new ChoicePart(d.Choice, d.Text, wantLogprobs ? d.Logprobs : null, null, offsets[d.Choice]), usage));
                    offsets[d.Choice] += d.Text.Length;
                    break;
                case ChoiceFinished f:
                    completionTokens += f.CompletionTokens;
                    await SendAsync(json.Chunk(new ChoicePart(f.Choice, null, null, f.FinishReason, offsets[f.Choice]), usage));
                    break;
            }
        }
        ct.ThrowIfCancellationRequested();
        if (usage) await SendAsync(json.UsageChunk(new Usage(generation.PromptTokens, completionTokens)));
        await ctx.Response.BodyWriter.WriteAsync(Sse.Done, ct);
        await ctx.Response.BodyWriter.FlushAsync(ct);
    }
}
