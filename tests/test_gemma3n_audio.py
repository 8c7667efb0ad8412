"""The audio path with tiny random Gemma 3n and Phi-4-multimodal checkpoints, loaded through the registry.

Weights are random, so the texts are gibberish; what is checked is that the audio reaches the model
(soft tokens in the prompt, features in the processor inputs, logits that depend on the audio), that long
audio is cut to the clip limit and merged (map-reduce), that progress and cancellation work between
chunks, and that a job for another model switches the resident LLM.
"""

from __future__ import annotations

import gc
import json
import weakref

import numpy as np
import pytest
import soundfile as sf
import torch

from config import MODEL_REGISTRY, load_settings
from models import ModelManager
from tests.tiny_llms import build_tiny_gemma3n, build_tiny_phi4mm
from worker.audio_llm.options import Gemma3NOptions
from worker.audio_llm.pipeline import run_gemma3n
from worker.audio_llm.processor import Gemma3NProcessor
from worker.errors import JobCanceled
from worker.llm.generate import prepare_inputs, render_prompt

SR = 16000  # Hz
AUDIO_MODELS = ["gemma-3n-E2B", "phi-4-multimodal"]


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    torch.set_num_threads(1)
    models_dir = tmp_path_factory.mktemp("g3n-models")
    build_tiny_gemma3n(models_dir / MODEL_REGISTRY["gemma-3n-E2B"]["repo_id"])
    phi = build_tiny_phi4mm(tmp_path_factory.mktemp("g3n-phi") / "phi4mm")
    settings = load_settings({"MODELS_DIR": str(models_dir), "PHI4_MM_MODEL_PATH": str(phi),
                              "TORCH_NUM_THREADS": "1"}, dotenv=False)
    mm = ModelManager(settings)
    yield mm
    mm.unload_all()


def tone(seconds: float, hz: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def noise(seconds: float, sr: int = SR) -> np.ndarray:
    return (0.2 * np.random.default_rng(0).standard_normal(int(seconds * sr))).astype(np.float32)


def options(model: str, task: str = "transcribe", **kw) -> Gemma3NOptions:
    return Gemma3NOptions(task=task, model_variant=model, temperature=0, max_new_tokens=6, **kw)


def audio_token_id(llm) -> int:
    return llm.tokenizer.convert_tokens_to_ids(llm.processor.audio_token)


@pytest.mark.parametrize("model", AUDIO_MODELS)
def test_the_audio_reaches_the_model(manager, model):
    processor = Gemma3NProcessor(manager)
    prepared = processor.preprocess(tone(8.0, 220.0), SR, options=options(model), filename="tone.wav")
    assert prepared.audio_input and [c.kind for c in prepared.calls] == ["single"]
    processor.ensure_model(prepared)
    llm = manager.current_llm()
    call = prepared.calls[0]
    assert call.audio.shape == (8 * SR,) and call.audio.dtype == np.float32
    assert "Measured features of this recording" in call.user_text
    text = render_prompt(llm, call.options.conversation())
    inputs = prepare_inputs(llm, text, audio=[call.audio])
    n_audio_tokens = int((inputs["input_ids"] == audio_token_id(llm)).sum())
    # Gemma 3n: a fixed 188 soft tokens per clip; Phi-4-multimodal: one per 80 ms of audio (8 s -> 100).
    assert n_audio_tokens == (188 if model.startswith("gemma") else 100)
    assert any(key.endswith("input_features") and value.shape[-1] in (80, 128) for key, value in inputs.items())
    # Same prompt text, other audio: the last position's logits change, and only because of the audio.
    other = prepare_inputs(llm, text, audio=[noise(8.0)])
    assert torch.equal(inputs["input_ids"], other["input_ids"])
    with torch.inference_mode():
        logits = [llm.model(**x).logits[0, -1] for x in (inputs, other, inputs)]
    del llm
    assert not torch.allclose(logits[0], logits[1], atol=1e-4) and torch.equal(logits[0], logits[2])

    result = processor.process_array(tone(8.0, 220.0), SR, options=options(model), filename="tone.wav")
    assert result["audio_input"] is True and result["chunks"] == 1 and result["generate_calls"] == 1
    assert result["passes"][0]["audio_input"] is True and result["model_sample_rate"] == SR
    assert result["passes"][0]["prompt_tokens"] == inputs["input_ids"].shape[-1]


@pytest.mark.parametrize("model", AUDIO_MODELS)
def test_75_seconds_are_heard_in_3_chunks_then_merged(manager, model):
    stages: list[tuple[float, str]] = []
    clip = np.concatenate([tone(25.0, 220.0), noise(25.0), tone(25.0, 880.0)])
    result = Gemma3NProcessor(manager).process_array(clip, SR, options=options(model, "analyze"),
                                                     filename="long.wav", progress=lambda f, s: stages.append((f, s)))
    assert result["chunks"] == 3 and result["chunk_seconds_max"] == 30.0
    assert [p["kind"] for p in result["passes"]] == ["chunk", "chunk", "chunk", "merge"]
    assert [p["audio_input"] for p in result["passes"]] == [True, True, True, False]
    assert result["generate_calls"] == 4 and result["merge_passes"] == 1
    notes = result["chunk_notes"]
    assert [(n["start_seconds"], n["end_seconds"]) for n in notes] == [(0, 25), (25, 50), (50, 75)]
    # Each chunk's own features travel with it: the noise chunk is far brighter than the 220 Hz one.
    assert notes[1]["features"]["spectral_centroid_hz"] > 10 * notes[0]["features"]["spectral_centroid_hz"]
    assert notes[0]["features"]["dominant_pitch_class"] == "A"
    # The merge pass reads every chunk's notes, in order, with the whole file's features.
    prompt = result["prompt_text"]
    assert prompt.index("[0:00-0:25]") < prompt.index("[0:25-0:50]") < prompt.index("[0:50-1:15]")
    assert all(n["text"].strip() in prompt for n in notes)
    assert "Measured features of the whole recording" in prompt and "duration 75.0 s" in prompt
    names = [s for _, s in stages]
    assert [n for n in names if n.startswith("chunk")] == ["chunk 1/3", "chunk 2/3", "chunk 3/3"]
    assert "merging" in names and names.index("chunk 3/3") < names.index("merging")
    fractions = [f for f, _ in stages]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] <= 1
    assert result["tokens_generated"] == sum(p["tokens_generated"] for p in result["passes"]) > 0


def test_very_long_notes_are_merged_in_groups_first(manager):
    processor = Gemma3NProcessor(manager, merge_input_chars=1)  # any notes exceed it: forces a group round
    result = processor.process_array(tone(75.0, 330.0), SR, options=options("phi-4-multimodal"), filename="x.wav")
    assert [p["kind"] for p in result["passes"]] == ["chunk", "chunk", "chunk", "merge", "merge"]
    assert result["merge_passes"] == 2 and result["generate_calls"] == 5


@pytest.mark.parametrize("where", ["between", "inside"])
def test_a_cancel_keeps_the_chunks_finished_and_the_running_ones_text(manager, tmp_path, where):
    """Canceled at chunk 2 of 3 (before its pass, or once its first token is out), the analysis keeps chunk 1's note
    and the text chunk 2 had written, marked canceled, as partial_analysis_... files and the exception's `finished`
    (the job's result). It had left no file and no result: a canceled generation kept its text, an analysis none."""
    path = tmp_path / "song.flac"
    sf.write(path, np.stack([tone(75.0, 440.0, 22050), tone(75.0, 660.0, 22050)], axis=1), 22050)
    results = tmp_path / "results"
    results.mkdir()
    seen = []

    def progress(fraction: float, stage: str) -> None:
        seen.append(stage)
        if (where == "between" and stage == "chunk 2/3") or (
                where == "inside" and "chunk 2/3" in seen and stage == "generating"):
            raise JobCanceled("canceled by the user")

    with pytest.raises(JobCanceled) as caught:
        run_gemma3n(manager=manager, audio_path=path, results_dir=results, options=options("gemma-3n-E2B"),
                    progress=progress)
    assert seen.count("chunk 1/3") == 1 and "merging" not in seen and "chunk 3/3" not in seen
    kept = caught.value.finished
    assert kept is not None and kept["finish_reason"] == "canceled" and kept["partial"] is True
    finished = [p["finish_reason"] for p in kept["passes"]]
    notes = kept["chunk_notes"]
    if where == "between":
        assert finished[0] != "canceled" and len(finished) == 1 and len(notes) == 1 and "canceled" not in notes[0]
    else:  # the running pass had written its first token: its text so far is its note, marked canceled
        assert finished[0] != "canceled" and finished[1:] == ["canceled"], finished
        assert notes[1]["canceled"] is True and notes[1]["tokens_generated"] >= 1 and notes[1]["start_seconds"] == 25
    assert notes[0]["start_seconds"] == 0 and notes[0]["tokens_generated"] >= 1
    assert kept["analysis_summary"] == "" and kept["warnings"][0].startswith("the analysis was canceled: it holds "
                                                                             "the 1 of its 4 generation pass(es)")
    names = ["partial_analysis_gemma-3n-E2B_transcribe_song.json", "partial_analysis_gemma-3n-E2B_transcribe_song.txt"]
    assert sorted(kept["files"]) == sorted(p.name for p in results.iterdir()) == names
    assert json.loads((results / names[0]).read_text()) == kept
    assert (results / names[1]).read_text().startswith("CANCELED: a partial analysis")


def test_file_job_switches_model_and_writes_both_files(manager, tmp_path):
    manager.load_llm("phi-4-multimodal")
    previous = weakref.ref(manager.current_llm().model)
    path = tmp_path / "Take 1.wav"
    sf.write(path, tone(12.0, 440.0, 44100), 44100)
    (tmp_path / "transcript_Take 1.json").write_text(json.dumps({"text": "ignored by audio models"}))
    result = run_gemma3n(manager=manager, audio_path=path, results_dir=tmp_path,
                         options=options("gemma-3n-E2B", prompt="Name the instrument."))
    assert manager.current_model == "gemma-3n-E2B" and result["model_load_seconds"] > 0
    gc.collect()
    assert previous() is None  # one LLM resident: the switch dropped Phi-4-multimodal
    assert result["files"] == ["analysis_gemma-3n-E2B_transcribe_Take_1.json",
                               "analysis_gemma-3n-E2B_transcribe_Take_1.txt"]
    assert result["output_json_file"] == result["files"][0] and result["output_text_file"] == result["files"][1]
    written = json.loads((tmp_path / result["output_json_file"]).read_text())
    assert written == json.loads(json.dumps(result))
    assert result["sample_rate"] == 44100 and result["model_sample_rate"] == SR and result["duration_seconds"] == 12.0
    assert result["transcript_source"] is None and "Name the instrument." in result["prompt_text"]
    text = (tmp_path / result["output_text_file"]).read_text()
    assert text.startswith("Transcription of Take 1.wav by Google Gemma 3n E2B IT")
    assert "the model heard the audio (1 chunk(s) at 16000 Hz)" in text and "Audio features of Take 1.wav" in text


@pytest.mark.parametrize("model", AUDIO_MODELS)
def test_album_art_reaches_the_final_pass(manager, model, tmp_path):
    from tests.test_album_art import cover

    song = tmp_path / "song.wav"
    sf.write(song, tone(4.0, 220.0), SR)
    art = cover(tmp_path / "art.png")
    plain = run_gemma3n(manager=manager, audio_path=song, results_dir=tmp_path / "plain",
                        options=options(model, "analyze"))
    seen = run_gemma3n(manager=manager, audio_path=song, results_dir=tmp_path / "seen",
                       options=options(model, "analyze", image="art.png"), image_path=art)
    assert plain["image"] is None and seen["image"] == "art.png"
    # the same pass with the picture's soft tokens (and the line saying what it is) in front of its prompt
    assert [p["kind"] for p in seen["passes"]] == [p["kind"] for p in plain["passes"]] == ["single"]
    assert seen["passes"][0]["prompt_tokens"] > plain["passes"][0]["prompt_tokens"]


def test_each_passes_generation_says_which_pass_it_is(manager):
    """A long recording's analysis generates once per chunk, then merges: each generation's progress detail (the
    job's `generation`) says its pass of all, since its tokens and time left are that pass's alone."""
    from worker.progress import current_detail

    told: list[tuple[int, int]] = []

    def progress(fraction: float, stage: str) -> None:
        if (detail := current_detail()) is not None:
            told.append((detail["pass"], detail["passes"]))

    clip = np.concatenate([tone(25.0, 220.0), noise(25.0), tone(25.0, 880.0)])
    result = Gemma3NProcessor(manager).process_array(clip, SR, options=options("gemma-3n-E2B", "analyze"),
                                                     filename="long.wav", progress=progress)
    assert result["generate_calls"] == 4
    assert sorted(set(told)) == [(1, 4), (2, 4), (3, 4), (4, 4)] and told == sorted(told), told
