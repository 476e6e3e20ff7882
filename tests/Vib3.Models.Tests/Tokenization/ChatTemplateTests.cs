using Vib3.Core;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

public sealed class ChatTemplateTests
{
    private static readonly (string, string)[] Conversation =
    [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Capital of France?"),
    ];

    [Fact]
    public void Mixtral_built_in()
    {
        Assert.Equal("<s>[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] Capital of France? [/INST]",
            ChatTemplates.Render("mixtral", Conversation, addGenerationPrompt: true, null));
        Assert.Equal("<s>[INST] Hi [/INST]", ChatTemplates.Render("mixtral", [("user", "Hi")], true, null));
    }

    [Fact]
    public void Mixtral_rejects_roles_that_do_not_alternate()
    {
        var e = Assert.Throws<Vib3Exception>(() => ChatTemplates.Render("mixtral", [("user", "a"), ("user", "b")], true, null));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains("alternate", e.Message);
    }

    [Fact]
    public void Qwen2_moe_built_in_adds_the_default_system_message()
    {
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            ChatTemplates.Render("qwen2moe", [("user", "Hi")], true, null));
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nCapital of France?<|im_end|>\n",
            ChatTemplates.Render("qwen2_moe", Conversation, false, null));
    }

    [Fact]
    public void Qwen3_moe_built_in()
    {
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", ChatTemplates.Render("qwen3moe", [("user", "Hi")], true, null));
    }

    [Fact]
    public void Olmoe_built_in()
    {
        Assert.Equal(
            "<|endoftext|><|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello!<|endoftext|>\n<|user|>\nCapital of France?\n<|assistant|>\n",
            ChatTemplates.Render("olmoe", Conversation, true, null));
    }

    [Fact]
    public void A_given_template_wins_and_sees_bos_eos_and_the_generation_flag()
    {
        const string t = "{% for m in messages %}{{ bos_token ~ m.role | upper }}: {{ m['content'] | trim }}{{ eos_token if not loop.last }}\n{% endfor %}{% if add_generation_prompt %}BOT:{% endif %}";
        var r = ChatTemplates.RenderDetailed("qwen3moe", [("user", " a "), ("assistant", "b")], true, t, "<B>", "<E>");
        Assert.False(r.UsedBuiltIn);
        Assert.Equal("<B>USER: a<E>\n<B>ASSISTANT: b\nBOT:", r.Text);
    }

    [Fact]
    public void Unsupported_jinja_falls_back_to_the_built_in_and_says_so()
    {
        var r = ChatTemplates.RenderDetailed("qwen3moe", [("user", "Hi")], true, "{% call f() %}x{% endcall %}");
        Assert.True(r.UsedBuiltIn);
        Assert.Contains("{% call %} is not supported", r.FallbackReason);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", r.Text);
    }

    [Fact]
    public void Unknown_family_without_template_is_not_supported()
    {
        var e = Assert.Throws<Vib3Exception>(() => ChatTemplates.Render("gpt-j", [("user", "Hi")], true, null));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
    }

    /// <summary>Qwen3's real template (tool and thinking parts included): namespace, reverse slices, string methods,
    /// whitespace control and trim_blocks/lstrip_blocks all matter here.</summary>
    [Fact]
    public void Qwen3_template_from_tokenizer_config_renders_like_transformers()
    {
        const string qwen3 = """
{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
""";
        var r = ChatTemplates.RenderDetailed("qwen3moe",
            [("system", "Be brief."), ("user", "Hi"), ("assistant", "<think>\nhmm\n</think>\n\nHello!"), ("user", "Capital of France?")], true, qwen3);
        Assert.True(r.FallbackReason is null, r.FallbackReason);
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n" +
            "<|im_start|>user\nCapital of France?<|im_end|>\n<|im_start|>assistant\n", r.Text);
    }
}
