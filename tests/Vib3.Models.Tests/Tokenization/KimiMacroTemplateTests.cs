using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>Kimi K2's macro-defining chat templates (<see cref="KimiMacroTemplates"/>) rendered by vib3's Jinja.
/// Expected strings were worked out by hand from Jinja2's rules (trim_blocks/lstrip_blocks as transformers sets them,
/// "-" stripping all whitespace on its side, a macro call yielding its rendered body, transformers' tojson =
/// json.dumps with ", "/": " separators) and then checked against Jinja2 3.1.6 rendering the same template with
/// transformers' environment settings (ImmutableSandboxedEnvironment, loopcontrols, its tojson).</summary>
public sealed class KimiMacroTemplateTests
{
    private static readonly object?[] Tools =
    [
        new Dictionary<string, object?>
        {
            ["type"] = "function",
            ["function"] = new Dictionary<string, object?>
            {
                ["name"] = "get_weather",
                ["parameters"] = new Dictionary<string, object?>
                {
                    ["type"] = "object",
                    ["properties"] = new Dictionary<string, object?> { ["city"] = new Dictionary<string, object?> { ["type"] = "string" } },
                },
            },
        },
    ];

    /// <summary>system, user, assistant (text and one tool call), tool result, assistant, user.</summary>
    private static readonly object?[] ToolConversation =
    [
        Message("system", "Be brief."),
        Message("user", "What is the weather in Paris?"),
        new Dictionary<string, object?>
        {
            ["role"] = "assistant",
            ["content"] = "Let me check.",
            ["tool_calls"] = new object?[]
            {
                new Dictionary<string, object?>
                {
                    ["id"] = "functions.get_weather:0",
                    ["type"] = "function",
                    ["function"] = new Dictionary<string, object?> { ["name"] = "get_weather", ["arguments"] = "{\"city\": \"Paris\"}" },
                },
            },
        },
        new Dictionary<string, object?> { ["role"] = "tool", ["tool_call_id"] = "functions.get_weather:0", ["content"] = "Sunny, 21 C" },
        Message("assistant", "It is sunny and 21 C in Paris."),
        Message("user", "And tomorrow?"),
    ];

    private const string ToolDeclaration =
        "<|im_system|>tool_declare<|im_middle|>[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": " +
        "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}]<|im_end|>";

    private const string ToolCallSection =
        "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Paris\"}" +
        "<|tool_call_end|><|tool_calls_section_end|>";

    private static readonly (string, string)[] ThreeTurns =
    [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Capital of France?"),
    ];

    private static Dictionary<string, object?> Message(string role, string content) => new() { ["role"] = role, ["content"] = content };

    private static string Render(string template, object?[] messages) =>
        JinjaTemplate.Parse(template).Render(new Dictionary<string, object?>
        {
            ["messages"] = JinjaTemplate.Value(messages),
            ["tools"] = JinjaTemplate.Value(Tools),
            ["add_generation_prompt"] = true,
        });

    [Fact]
    public void Thinking_template_renders_a_tool_conversation()
    {
        // the last assistant message without tool calls (index 4, found by the reverse loop's break) ends the history;
        // history assistants get an empty <think></think>, and the tool result is headed by its tool_call_id
        const string expected = ToolDeclaration +
            "<|im_system|>system<|im_middle|>Be brief.<|im_end|>" +
            "<|im_user|>user<|im_middle|>What is the weather in Paris?<|im_end|>" +
            "<|im_assistant|>assistant<|im_middle|><think></think>Let me check." + ToolCallSection + "<|im_end|>" +
            "<|im_system|>tool<|im_middle|>## Return of functions.get_weather:0\nSunny, 21 C<|im_end|>" +
            "<|im_assistant|>assistant<|im_middle|><think></think>It is sunny and 21 C in Paris.<|im_end|>" +
            "<|im_user|>user<|im_middle|>And tomorrow?<|im_end|>" +
            "<|im_assistant|>assistant<|im_middle|>";
        Assert.Equal(expected, Render(KimiMacroTemplates.Thinking, ToolConversation));
    }

    [Fact]
    public void Instruct_template_renders_a_tool_conversation()
    {
        // the tool-call id is queued with list.append and taken back with pop(0) for the tool result; transformers'
        // immutable sandbox refuses append (SecurityError), plain Jinja2 and llama.cpp render this
        const string expected = ToolDeclaration +
            "<|im_system|>system<|im_middle|>Be brief.<|im_end|>" +
            "<|im_user|>user<|im_middle|>What is the weather in Paris?<|im_end|>" +
            "<|im_assistant|>assistant<|im_middle|>Let me check." + ToolCallSection + "<|im_end|>" +
            "<|im_system|>tool<|im_middle|>## Return of functions.get_weather:0\nSunny, 21 C<|im_end|>" +
            "<|im_assistant|>assistant<|im_middle|>It is sunny and 21 C in Paris.<|im_end|>" +
            "<|im_user|>user<|im_middle|>And tomorrow?<|im_end|>" +
            "<|im_assistant|>assistant<|im_middle|>";
        Assert.Equal(expected, Render(KimiMacroTemplates.Instruct, ToolConversation));
    }

    [Fact]
    public void Thinking_template_renders_through_chat_templates_without_fallback()
    {
        var r = ChatTemplates.RenderDetailed("deepseek2", ThreeTurns, addGenerationPrompt: true, KimiMacroTemplates.Thinking);
        Assert.False(r.UsedBuiltIn, r.FallbackReason);
        Assert.Equal(
            "<|im_system|>system<|im_middle|>Be brief.<|im_end|><|im_user|>user<|im_middle|>Hi<|im_end|>" +
            "<|im_assistant|>assistant<|im_middle|><think></think>Hello!<|im_end|><|im_user|>user<|im_middle|>Capital of France?<|im_end|>" +
            "<|im_assistant|>assistant<|im_middle|>", r.Text);
    }

    [Fact]
    public void Instruct_template_keeps_the_newline_after_its_default_system_message()
    {
        // "<|im_end|>\n  {% endif %}": lstrip_blocks takes the two spaces, trim_blocks only the newline after %},
        // so the newline before {% endif %} stays (Jinja2 renders the same)
        var r = ChatTemplates.RenderDetailed("deepseek2", [("user", "Hi")], true, KimiMacroTemplates.Instruct);
        Assert.False(r.UsedBuiltIn, r.FallbackReason);
        Assert.Equal(
            "<|im_system|>system<|im_middle|>You are Kimi, an AI assistant created by Moonshot AI.<|im_end|>\n" +
            "<|im_user|>user<|im_middle|>Hi<|im_end|><|im_assistant|>assistant<|im_middle|>", r.Text);
    }
}
