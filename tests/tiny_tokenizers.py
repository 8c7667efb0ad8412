"""Hand-built tokenizers and short chat templates for the tiny LLM checkpoints (tests/tiny_llms.py).

Vocabularies: special tokens, the 256 byte-fallback (Gemma) or byte-level (GPT-2) symbols, then single
ASCII characters, so any text tokenizes (about one token per character); no hub download involved.
"""

from __future__ import annotations

MAX_POSITIONS = 4096  # tokens; tiny models are character-level, so keep room for feature-rich prompts

# Chat templates: short equivalents of the real ones (same turn markers, same multimodal placeholders).
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- if messages[0]['content'] is string -%}{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- else -%}{%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}{%- endif -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{%- if message['content'] is string -%}{{ message['content'] | trim }}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'audio' -%}{{ AUDIO_PLACEHOLDER }}"
    "{%- elif item['type'] == 'image' -%}{{ IMAGE_PLACEHOLDER }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] | trim }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)

PHI4MM_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|' + message['role'] + '|>' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'audio' -%}{{ '<|audio|>' }}"
    "{%- elif item['type'] == 'image' -%}{{ '<|image|>' }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<|end|>' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>' }}{%- else -%}{{ eos_token }}{%- endif -%}"
)

PHI4_REASONING_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '<|im_sep|>' + message['content'] + '<|im_end|>' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant<|im_sep|>' }}{%- endif -%}"
)

_ASCII = [chr(c) for c in range(33, 127)]  # printable, without the space (Gemma: '▁', GPT-2: 'Ġ')


# ---------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------


def _gemma_tokenizer(*, text_specials: list[str], extra_specials: dict[str, str], chat_template: str,
                     pinned: dict[str, int] | None = None, total: int | None = None):
    """A GemmaTokenizer (byte-fallback BPE, '▁' for spaces): specials, 256 bytes, ASCII, '▁'+ASCII merges.

    `text_specials` are appended to the text block; `pinned` places tokens at fixed ids past it (the real
    checkpoints' multimodal blocks), the gaps filled with `<unusedN>`; `extra_specials` names the
    attribute tokens the processors read (`{"image_token": "<image_soft_token>", ...}`).
    """
    from transformers import GemmaTokenizer

    vocab: dict[str, int] = {}
    for tok in ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>", *text_specials):
        vocab[tok] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for tok in ["▁", *_ASCII, *("▁" + c for c in _ASCII)]:
        vocab.setdefault(tok, len(vocab))
    pinned = pinned or {}
    by_id = {i: t for t, i in pinned.items()}
    for i in range(len(vocab), max([total or 0, *(i + 1 for i in by_id)])):
        vocab[by_id.get(i, f"<unused{i}>")] = i
    tokenizer = GemmaTokenizer(
        vocab=vocab,
        merges=[("▁", c) for c in _ASCII],
        extra_special_tokens=dict(extra_specials),
        model_max_length=MAX_POSITIONS,
        chat_template=chat_template,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]})
    return tokenizer


def _byte_symbols() -> list[str]:
    """GPT-2's byte → printable-symbol table (byte b is `_byte_symbols()[b]`)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def _gpt2_tokenizer(specials: list[str], extra_specials: dict[str, str], *, eos: str, chat_template: str,
                    bos: str | None = None):
    """A GPT2Tokenizer (byte-level BPE) over the 256 byte symbols and 'Ġ'+ASCII merges, plus specials.

    `extra_specials` names the attribute tokens the processors read (`{"audio_token": "<|audio|>"}`).
    """
    from transformers import GPT2Tokenizer

    symbols = _byte_symbols()
    vocab: dict[str, int] = {ch: i for i, ch in enumerate(symbols)}
    space = symbols[ord(" ")]
    merges = [(space, c) for c in _ASCII]
    for tok in [space + c for c in _ASCII] + specials + list(extra_specials.values()):
        vocab.setdefault(tok, len(vocab))
    tokenizer = GPT2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=bos or eos,
        bos_token=bos or eos,
        eos_token=eos,
        pad_token=bos or eos,
        extra_special_tokens=dict(extra_specials),
        model_max_length=MAX_POSITIONS,
        chat_template=chat_template,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": [t for t in specials if t not in (eos, bos)]})
    return tokenizer
