"""Tiny random audio models saved the way the real weights are stored (recipes: shared/TINY_MODELS.md).

They load through the production loaders (`load_demucs`, `load_musicgen`), so tests exercise the real path
with weights of a few megabytes. Random weights make noise, not music: tests check shapes, rates, lengths,
determinism and plumbing, never quality.
"""

from __future__ import annotations

import json
from pathlib import Path

TINY_DEMUCS_NAME = "tiny_htdemucs"
TINY_DEMUCS_SIG = "0badcafe"
DEMUCS_SOURCES = ["drums", "bass", "other", "vocals"]


def tiny_htdemucs(*, seed: int = 0, **overrides):
    """A small random HTDemucs: 44.1 kHz stereo, 4 sources like the real one; a 4 s training segment
    (the real one has 7.8 s) halves the work per window in tests."""
    import torch
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    kwargs = dict(sources=DEMUCS_SOURCES, channels=8, depth=4, nfft=4096, t_layers=1, t_heads=2,
                  segment=4)
    kwargs.update(overrides)
    return HTDemucs(**kwargs).eval()


def build_tiny_htdemucs(folder: Path, *, name: str = TINY_DEMUCS_NAME, seed: int = 0, **overrides) -> Path:
    """Save a tiny HTDemucs as a demucs local repo: `<name>.yaml` + `<sig>-<sha256[:8]>.th`.

    That is the layout of the published weights (a bag yaml naming signatures; a torch package with
    klass/args/kwargs/state, its file name carrying a checksum), read by `demucs.pretrained.get_model(name,
    repo=folder)`. Returns the folder.
    """
    from demucs.states import get_state, save_with_checksum

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_htdemucs(seed=seed, **overrides)
    args, kwargs = model._init_args_kwargs
    package = {"klass": model.__class__, "args": args, "kwargs": kwargs, "state": get_state(model, None),
               "training_args": {}}
    save_with_checksum(package, folder / f"{TINY_DEMUCS_SIG}.th")
    (folder / f"{name}.yaml").write_text(f"models: ['{TINY_DEMUCS_SIG}']\n")
    return folder


def build_tiny_htdemucs_hf(folder: Path, *, name: str = TINY_DEMUCS_NAME, seed: int = 0) -> Path:
    """The Hugging Face layout of the same model: `<name>.yaml` + `<sig>.safetensors` with klass/args/kwargs
    in the safetensors metadata (what `demucs.hf.load_safetensors_model` reads)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_htdemucs(seed=seed)
    args, kwargs = model._init_args_kwargs
    meta = {"klass": "demucs.htdemucs.HTDemucs", "args": json.dumps(list(args)), "kwargs": json.dumps(kwargs)}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / f"{TINY_DEMUCS_SIG}.safetensors"), metadata=meta)
    (folder / f"{name}.yaml").write_text(f"models: ['{TINY_DEMUCS_SIG}']\n")
    return folder


TINY_MUSICGEN_CODEBOOK = 64  # EnCodec codebook size; the decoder's pad/start token is this id
TINY_MUSICGEN_WORDS = ["rock", "jazz", "drum", "piano", "calm", "loud", "beat", "guitar", "slow", "fast"]


def _tiny_t5_tokenizer():
    """A T5Tokenizer over a small Unigram vocabulary (letters, a few words): no hub, no sentencepiece file."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(c, -3.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789,.-'"]
    vocab += [("▁" + w, -1.0) for w in TINY_MUSICGEN_WORDS]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return T5Tokenizer(tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_ids=0)


def build_tiny_musicgen(folder: Path, *, seed: int = 0, melody: bool = False) -> Path:
    """A random MusicGen with the real layout (32 kHz mono EnCodec at 50 frames/s, 4 codebooks, a T5 text
    encoder), saved with save_pretrained like facebook/musicgen-small: config.json, generation_config.json,
    model.safetensors, tokenizer and preprocessor files. ~1 MB.

    `melody=True` builds MusicgenMelodyForConditionalGeneration (facebook/musicgen-melody's class, 12 chroma
    bins); its preprocessor_config.json is written as data because the melody feature extractor class
    cannot be instantiated without torchaudio."""
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    folder = Path(folder)
    tokenizer = _tiny_t5_tokenizer()
    text = T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
    codes = TINY_MUSICGEN_CODEBOOK
    # 6 bits per code at 50 frames/s = 300 bit/s per codebook: 1.2 kbit/s selects 4 codebooks
    audio = EncodecConfig(sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], codebook_size=codes,
                          num_filters=4, hidden_size=16, codebook_dim=16, num_lstm_layers=1,
                          target_bandwidths=[1.2], audio_channels=1)
    dec_kwargs = dict(vocab_size=codes, pad_token_id=codes, bos_token_id=codes, hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, ffn_dim=32, num_codebooks=4, max_position_embeddings=2048,
                      audio_channels=1)
    torch.manual_seed(seed)
    if melody:
        config = MusicgenMelodyConfig(text_encoder=text, audio_encoder=audio,
                                      decoder=MusicgenMelodyDecoderConfig(**dec_kwargs), num_chroma=12,
                                      chroma_length=235)
        model = MusicgenMelodyForConditionalGeneration(config).eval()
    else:
        config = MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=MusicgenDecoderConfig(**dec_kwargs))
        model = MusicgenForConditionalGeneration(config).eval()
    with torch.no_grad():  # EnCodec's codebooks start as zeros (filled by k-means in training): all codes
        for layer in model.audio_encoder.quantizer.layers:  # would decode to the same silence-like signal
            layer.codebook.embed.normal_()
    gc = model.generation_config
    gc.decoder_start_token_id = gc.pad_token_id = gc.bos_token_id = codes
    gc.do_sample, gc.guidance_scale, gc.max_length = True, 3.0, 1500
    model.save_pretrained(folder)
    if melody:
        tokenizer.save_pretrained(folder)
        (folder / "preprocessor_config.json").write_text(json.dumps({
            "feature_extractor_type": "MusicgenMelodyFeatureExtractor", "processor_class": "MusicgenMelodyProcessor",
            "feature_size": 12, "sampling_rate": 32000, "hop_length": 4096, "chunk_length": 30, "n_fft": 16384,
            "num_chroma": 12, "padding_value": 0.0}, indent=2))
    else:
        MusicgenProcessor(feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=32000),
                          tokenizer=tokenizer).save_pretrained(folder)
    return folder
