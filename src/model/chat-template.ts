/**
 * Chat prompts from the model's own Jinja chat template (GGUF `tokenizer.chat_template`, or
 * tokenizer_config.json's `chat_template`), rendered with @huggingface/jinja as transformers does:
 * variables `messages`, `bos_token`, `eos_token`, `add_generation_prompt`.
 */
import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

export interface ChatRenderOptions {
  /** Text of the model's BOS / EOS tokens, which templates may write themselves (Llama 3 writes BOS). */
  readonly bosToken?: string;
  readonly eosToken?: string;
  /** Whether to end with the opening of an assistant turn, so the model writes the reply. */
  readonly addGenerationPrompt?: boolean;
}

let cached: { source: string; template: Template } | undefined;

/**
 * Renders a conversation. Without a template (a base model) the prompt is a plain transcript: one
 * "role: content" line per message and, with addGenerationPrompt, a final "assistant:" for the model
 * to continue. That is a convention, not the model's training format.
 */
export function renderChat(
  template: string | undefined,
  messages: readonly ChatMessage[],
  options: ChatRenderOptions = {},
): string {
  if (template === undefined) return plainTranscript(messages, options.addGenerationPrompt ?? false);
  if (cached?.source !== template) {
    try {
      cached = { source: template, template: new Template(template) };
    } catch (error) {
      throw new Error(`chat template does not parse: ${(error as Error).message}`);
    }
  }
  try {
    return cached.template.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      bos_token: options.bosToken ?? '',
      eos_token: options.eosToken ?? '',
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  } catch (error) {
    throw new Error(`chat template failed to render: ${(error as Error).message}`);
  }
}

function plainTranscript(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  const lines = messages.map((m) => `${m.role}: ${m.content}\n`).join('');
  return addGenerationPrompt ? `${lines}assistant:` : lines;
}
