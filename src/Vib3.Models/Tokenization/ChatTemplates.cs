using Vib3.Core;

namespace Vib3.Models.Tokenization;

/// <summary>Turns a conversation into the prompt text a model was trained on. A chat_template from the model's
/// tokenizer_config.json (or GGUF tokenizer.chat_template) is rendered by <see cref="JinjaTemplate"/>; when there is
/// none, or it uses Jinja beyond vib3's subset, the family's built-in format is used (the Hugging Face template of
/// the family's reference instruct model, rendered by the same engine). The text includes BOS where the format does
/// (Mixtral "&lt;s&gt;", OLMoE "&lt;|endoftext|&gt;"): encode it with addBos: false. Rendering stays within
/// <see cref="JinjaLimits.Default"/>: a template that reaches a limit is hostile or broken, so it is an error
/// (ProgramLimitExceeded), never replaced by the built-in format.</summary>
public static class ChatTemplates
{
    /// <summary>mistralai/Mixtral-8x7B-Instruct-v0.1's format; a leading system message is put before the first user
    /// turn (as later Mistral templates do) instead of being rejected.</summary>
    public const string Mixtral =
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}{% set loop_messages = messages[1:] %}" +
        "{% else %}{% set system = '' %}{% set loop_messages = messages %}{% endif %}" +
        "{% for message in loop_messages %}" +
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
        "{% if message['role'] == 'user' %}{% if loop.first and system != '' %}{{ '[INST] ' + system + '\\n\\n' + message['content'] + ' [/INST]' }}" +
        "{% else %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}" +
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}" +
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

    /// <summary>Qwen1.5/Qwen2-MoE-Chat's ChatML, with its default system message.</summary>
    public const string Qwen2Moe =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
        "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>Qwen3's ChatML without tools or thinking markup (no default system message).</summary>
    public const string Qwen3Moe =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>allenai/OLMoE-1B-7B-0924-Instruct's (Tülu) format.</summary>
    public const string Olmoe =
        "{{ bos_token }}{% for message in messages %}" +
        "{% if message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + '\\n' }}" +
        "{% elif message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '\\n' }}" +
        "{% elif message['role'] == 'assistant' %}{% if not loop.last %}{{ '<|assistant|>\\n'  + message['content'] + eos_token + '\\n' }}" +
        "{% else %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% endif %}" +
        "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}{% endfor %}";

    /// <summary>deepseek-ai/DeepSeek-V3's format without tool calls: every system message (joined by a blank line)
    /// right after BOS, then &lt;｜User｜&gt;… and &lt;｜Assistant｜&gt;…&lt;｜end▁of▁sentence｜&gt; turns.</summary>
    public const string DeepSeekV3 =
        "{% set ns = namespace(system='', first=true) %}{% for message in messages %}{% if message['role'] == 'system' %}" +
        "{% set ns.system = message['content'] if ns.first else ns.system + '\\n\\n' + message['content'] %}{% set ns.first = false %}{% endif %}{% endfor %}" +
        "{{ bos_token }}{{ ns.system }}{% for message in messages %}" +
        "{% if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}" +
        "{% elif message['role'] == 'assistant' %}{{ '<｜Assistant｜>' + message['content'] + eos_token }}{% endif %}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}";

    /// <summary>moonshotai/Kimi-K2-Instruct's format without tools or images: role markers &lt;|im_system|&gt;,
    /// &lt;|im_user|&gt;, &lt;|im_assistant|&gt; each followed by the role name and &lt;|im_middle|&gt;; turns end with
    /// &lt;|im_end|&gt;; Kimi's default system message when the conversation has none. No BOS.</summary>
    public const string KimiK2 =
        "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}" +
        "{{ '<|im_system|>system<|im_middle|>You are Kimi, an AI assistant created by Moonshot AI.<|im_end|>' }}{% endif %}" +
        "{% if message['role'] == 'user' %}{{ '<|im_user|>' }}{% elif message['role'] == 'assistant' %}{{ '<|im_assistant|>' }}{% else %}{{ '<|im_system|>' }}{% endif %}" +
        "{{ message['role'] + '<|im_middle|>' + message['content'] + '<|im_end|>' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_assistant|>assistant<|im_middle|>' }}{% endif %}";

    /// <summary>Built-in template, BOS text and EOS text for a family (catalog/families name; HF model_type spellings accepted).</summary>
    public static (string Template, string Bos, string Eos)? BuiltIn(string family) => Normalize(family) switch
    {
        "mixtral" or "mistral" or "llama" => (Mixtral, "<s>", "</s>"),
        "qwen2moe" => (Qwen2Moe, "", "<|im_end|>"),
        "qwen3moe" => (Qwen3Moe, "", "<|im_end|>"),
        "olmoe" => (Olmoe, "<|endoftext|>", "<|endoftext|>"),
        "deepseek2" or "deepseekv2" or "deepseekv3" => (DeepSeekV3, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
        "kimik2" => (KimiK2, "", "<|im_end|>"),
        _ => null,
    };

    private static string Normalize(string family) => family.ToLowerInvariant().Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);

    public static string Render(string family, IReadOnlyList<(string Role, string Content)> messages, bool addGenerationPrompt,
        string? templateFromTokenizerConfig, string? bosToken = null, string? eosToken = null, CancellationToken ct = default) =>
        RenderDetailed(family, messages, addGenerationPrompt, templateFromTokenizerConfig, bosToken, eosToken, ct).Text;

    /// <summary>Renders, saying whether the built-in was used and why. The template's raise_exception (e.g. roles
    /// that do not alternate) is a Vib3Exception (invalid parameter value), a limit breach one of its own (program
    /// limit exceeded), never a silent fallback. A cancelled <paramref name="ct"/> stops the render promptly.</summary>
    public static ChatRender RenderDetailed(string family, IReadOnlyList<(string Role, string Content)> messages, bool addGenerationPrompt,
        string? templateFromTokenizerConfig, string? bosToken = null, string? eosToken = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        // Kimi K2 converts as the deepseek2 family; its own template (role markers with <|im_middle|>) tells them apart
        var builtInName = templateFromTokenizerConfig?.Contains("<|im_middle|>", StringComparison.Ordinal) == true ? "kimik2" : family;
        var builtIn = BuiltIn(builtInName);
        string? reason = null;
        if (!string.IsNullOrWhiteSpace(templateFromTokenizerConfig))
        {
            try
            {
                var text = RenderTemplate(templateFromTokenizerConfig, messages, addGenerationPrompt, bosToken ?? builtIn?.Bos ?? "", eosToken ?? builtIn?.Eos ?? "", ct);
                return new ChatRender(text, false, null);
            }
            catch (JinjaException e) when (!e.Raised && !e.LimitExceeded)
            {
                reason = $"the model's template is outside vib3's Jinja subset: {e.Message}";
                if (builtIn is null)
                    throw new Vib3Exception(SqlState.FeatureNotSupported, $"chat template: {e.Message}, and family '{family}' has no built-in format");
            }
        }
        if (builtIn is not { } b)
            throw new Vib3Exception(SqlState.FeatureNotSupported, $"family '{family}' has no built-in chat format and the model has no chat template");
        return new ChatRender(RenderTemplate(b.Template, messages, addGenerationPrompt, bosToken ?? b.Bos, eosToken ?? b.Eos, ct), true, reason,
            Normalize(builtInName));
    }

    /// <summary>A conversation with every role, for <see cref="Validate"/>.</summary>
    private static readonly (string Role, string Content)[] Sample =
        [("system", "You are a helpful assistant."), ("user", "Hello!"), ("assistant", "Hi! How can I help?"), ("user", "Tell me a joke.")];

    /// <summary>Checks a model's template before conversion publishes it: parsed and rendered once with a short
    /// sample conversation, under the limits serving uses. A template that reaches a limit is refused
    /// (ProgramLimitExceeded, naming <paramref name="origin"/> and the template line); Jinja beyond vib3's subset or
    /// the template's own raise_exception is not an error here (serving uses the built-in format for the former,
    /// as it always has).</summary>
    public static void Validate(string? template, string origin)
    {
        if (string.IsNullOrWhiteSpace(template)) return;
        try
        {
            RenderTemplate(template, Sample, addGenerationPrompt: true, "", "", CancellationToken.None);
        }
        catch (JinjaException e) when (!e.LimitExceeded)
        {
            // outside the subset: converted as before, rendered with the built-in format when served
        }
        catch (Vib3Exception e) when (e.SqlState == SqlState.InvalidParameterValue)
        {
            // the template's raise_exception refused the sample conversation: a choice of the template, not a fault
        }
        catch (Vib3Exception e) when (e.SqlState == SqlState.ProgramLimitExceeded)
        {
            throw new Vib3Exception(SqlState.ProgramLimitExceeded, $"{origin}: {e.Message}", e.InnerException);
        }
    }

    private static string RenderTemplate(string template, IReadOnlyList<(string Role, string Content)> messages, bool addGenerationPrompt,
        string bos, string eos, CancellationToken ct)
    {
        try
        {
            var vars = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
                ["add_generation_prompt"] = addGenerationPrompt,
                ["bos_token"] = bos,
                ["eos_token"] = eos,
            };
            return JinjaTemplate.Parse(template).Render(vars, ct);
        }
        catch (JinjaException e) when (e.Raised)
        {
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"chat template rejected the conversation: {e.Message}");
        }
        catch (JinjaException e) when (e.LimitExceeded)
        {
            // the JinjaException rides along so front ends can tell this limit from the context's (same SQLSTATE)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded, $"chat template refused, it exceeds a limit: {e.Message}", e);
        }
    }
}
