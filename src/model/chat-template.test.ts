import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderChat } from './chat-template.ts';

// The chat templates as published in Qwen/Qwen2-0.5B-Instruct's and meta-llama/Meta-Llama-3-8B-Instruct's
// tokenizer_config.json.
const QWEN2_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

test('Qwen2 (ChatML) template: default system prompt, turns, generation prompt', () => {
  const prompt = renderChat(QWEN2_TEMPLATE, [{ role: 'user', content: 'Hi!' }], { addGenerationPrompt: true });
  assert.equal(
    prompt,
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n',
  );
  const withSystem = renderChat(QWEN2_TEMPLATE, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi!' },
    { role: 'assistant', content: 'Hello.' },
  ]);
  assert.equal(
    withSystem,
    '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n',
  );
});

test('Llama 3 template: writes bos_token itself and trims message content', () => {
  const prompt = renderChat(
    LLAMA3_TEMPLATE,
    [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: '  Hi!\n' },
    ],
    { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>', addGenerationPrompt: true },
  );
  assert.equal(
    prompt,
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
  );
  assert.ok(
    !renderChat(LLAMA3_TEMPLATE, [{ role: 'user', content: 'x' }], { bosToken: '<|begin_of_text|>' }).endsWith(
      'assistant<|end_header_id|>\n\n',
    ),
  );
});

test('eos_token and raise_exception are available to templates', () => {
  const template =
    "{% for m in messages %}{% if m['role'] == 'tool' %}{{ raise_exception('no tools') }}{% endif %}{{ m['content'] + eos_token }}{% endfor %}";
  assert.equal(
    renderChat(
      template,
      [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
      ],
      { eosToken: '</s>' },
    ),
    'a</s>b</s>',
  );
  assert.throws(
    () => renderChat(template, [{ role: 'tool', content: 'x' }]),
    /chat template failed to render: .*no tools/,
  );
  assert.throws(() => renderChat('{% for %}', []), /chat template does not parse/);
});

test('without a template: a plain "role: content" transcript', () => {
  const messages = [
    { role: 'system', content: 'Be kind.' },
    { role: 'user', content: 'Hello' },
  ];
  assert.equal(renderChat(undefined, messages), 'system: Be kind.\nuser: Hello\n');
  assert.equal(
    renderChat(undefined, messages, { addGenerationPrompt: true }),
    'system: Be kind.\nuser: Hello\nassistant:',
  );
});
