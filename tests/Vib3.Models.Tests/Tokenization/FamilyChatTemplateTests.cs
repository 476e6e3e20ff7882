using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>The chat_template strings of deepseek-ai/DeepSeek-V3 and moonshotai/Kimi-K2-Instruct (their
/// tokenizer_config.json, JSON-decoded) rendered by vib3's Jinja for a three-turn conversation, and the built-in
/// formats of both families agreeing with them.</summary>
public sealed class FamilyChatTemplateTests
{
    /// <summary>deepseek-ai/DeepSeek-V3 tokenizer_config.json chat_template.</summary>
    public const string DeepSeekV3Template =
        """{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '\n\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}""";

    /// <summary>moonshotai/Kimi-K2-Instruct tokenizer_config.json chat_template.</summary>
    public const string KimiK2Template = """
        {%- if tools -%}
          <|im_system|>tool_declare<|im_middle|>{{ tools | tojson }}<|im_end|>
        {%- endif -%}
        {%- for message in messages -%}
          {%- if loop.first and messages[0]['role'] != 'system' -%}
            <|im_system|>system<|im_middle|>You are Kimi, an AI assistant created by Moonshot AI.<|im_end|>
          {%- endif -%}
          {%- if message.role == 'system' -%}
            <|im_system|>system<|im_middle|>
          {%- elif message.role == 'user' -%}
            <|im_user|>user<|im_middle|>
          {%- elif message.role == 'assistant' -%}
            <|im_assistant|>assistant<|im_middle|>
          {%- elif message.role == 'tool' -%}
            <|im_system|>tool<|im_middle|>
          {%- endif -%}
          {%- if message.role == 'assistant' and message.tool_calls -%}
            {%- if message.content -%}{{ message.content }}{%- endif -%}
            <|tool_calls_section_begin|>
            {%- for tool_call in message.tool_calls -%}
              <|tool_call_begin|>{{ tool_call.id }}<|tool_call_argument_begin|>{{ tool_call.arguments }}<|tool_call_end|>
            {%- endfor -%}
            <|tool_calls_section_end|>
          {%- elif message.role == 'tool' -%}
            {{ message.content }}
          {%- elif message.content is string -%}
            {{ message.content }}
          {%- elif message.content is not none -%}
            {% for content in message['content'] -%}
              {% if content['type'] == 'image' or 'image' in content or 'image_url' in content -%}
                <|media_start|>image<|media_content|><|media_pad|><|media_end|>
              {% else -%}
                {{ content['text'] }}
              {%- endif -%}
            {%- endfor -%}
          {%- endif -%}
          <|im_end|>
        {%- endfor -%}
        {%- if add_generation_prompt -%}
          <|im_assistant|>assistant<|im_middle|>
        {%- endif -%}
        """;

    private static readonly (string, string)[] ThreeTurns =
    [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Capital of France?"),
    ];

    private const string DeepSeekExpected =
        "<｜begin▁of▁sentence｜>Be brief.<｜User｜>Hi<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>Capital of France?<｜Assistant｜>";

    private const string KimiExpected =
        "<|im_system|>system<|im_middle|>Be brief.<|im_end|><|im_user|>user<|im_middle|>Hi<|im_end|>" +
        "<|im_assistant|>assistant<|im_middle|>Hello!<|im_end|><|im_user|>user<|im_middle|>Capital of France?<|im_end|>" +
        "<|im_assistant|>assistant<|im_middle|>";

    [Fact]
    public void DeepSeek_v3_template_renders_a_three_turn_conversation()
    {
        var r = ChatTemplates.RenderDetailed("deepseek2", ThreeTurns, addGenerationPrompt: true, DeepSeekV3Template,
            "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>");
        Assert.False(r.UsedBuiltIn, r.FallbackReason);
        Assert.Equal(DeepSeekExpected, r.Text);
        Assert.Equal(DeepSeekExpected[..^"<｜Assistant｜>".Length],
            ChatTemplates.Render("deepseek2", ThreeTurns, false, DeepSeekV3Template, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"));
    }

    [Fact]
    public void DeepSeek_v3_template_joins_system_messages_with_a_blank_line()
    {
        (string, string)[] conversation = [("system", "A"), ("user", "Hi"), ("system", "B")];
        const string expected = "<｜begin▁of▁sentence｜>A\n\nB<｜User｜>Hi<｜Assistant｜>";
        Assert.Equal(expected, ChatTemplates.Render("deepseek2", conversation, true, DeepSeekV3Template, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"));
        Assert.Equal(expected, ChatTemplates.Render("deepseek2", conversation, true, null));
    }

    [Fact]
    public void Kimi_k2_template_renders_a_three_turn_conversation()
    {
        var r = ChatTemplates.RenderDetailed("deepseek2", ThreeTurns, addGenerationPrompt: true, KimiK2Template, "[BOS]", "[EOS]");
        Assert.False(r.UsedBuiltIn, r.FallbackReason);
        Assert.Equal(KimiExpected, r.Text);
    }

    [Fact]
    public void Kimi_k2_template_adds_its_default_system_message()
    {
        const string expected = "<|im_system|>system<|im_middle|>You are Kimi, an AI assistant created by Moonshot AI.<|im_end|>" +
            "<|im_user|>user<|im_middle|>Hi<|im_end|><|im_assistant|>assistant<|im_middle|>";
        Assert.Equal(expected, ChatTemplates.Render("deepseek2", [("user", "Hi")], true, KimiK2Template));
        Assert.Equal(expected, ChatTemplates.Render("kimi_k2", [("user", "Hi")], true, null));
    }

    [Fact]
    public void Built_in_formats_match_the_real_templates()
    {
        Assert.Equal(DeepSeekExpected, ChatTemplates.Render("deepseek2", ThreeTurns, true, null));
        Assert.Equal(DeepSeekExpected, ChatTemplates.Render("deepseek_v3", ThreeTurns, true, null));
        Assert.Equal(KimiExpected, ChatTemplates.Render("kimi_k2", ThreeTurns, true, null));
        Assert.Equal(KimiExpected[..^"<|im_assistant|>assistant<|im_middle|>".Length], ChatTemplates.Render("kimi_k2", ThreeTurns, false, null));
    }

    [Fact]
    public void Kimi_k2_instruct_macro_template_renders_without_fallback()
    {
        // the later Kimi-K2-Instruct(-0905) template defines a render_content macro; vib3 renders it as the model's own
        var r = ChatTemplates.RenderDetailed("deepseek2", ThreeTurns, true, KimiMacroTemplates.Instruct);
        Assert.False(r.UsedBuiltIn, r.FallbackReason);
        Assert.Null(r.FallbackReason);
        Assert.Equal(KimiExpected, r.Text);
    }

    [Fact]
    public void A_kimi_template_beyond_the_subset_falls_back_to_kimi_not_deepseek()
    {
        // {% include %} needs a template loader, which vib3's Jinja subset does not have
        const string withInclude = "{%- include 'roles.jinja' -%}<|im_user|>user<|im_middle|>{{ messages[0].content }}<|im_end|>";
        var r = ChatTemplates.RenderDetailed("deepseek2", ThreeTurns, true, withInclude);
        Assert.True(r.UsedBuiltIn);
        Assert.Contains("include", r.FallbackReason);
        Assert.Equal(KimiExpected, r.Text);
    }
}
