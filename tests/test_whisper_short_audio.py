"""Audio too short for Whisper, with the real tiny.en model, real HTTP and the real worker.

A stranger's 10 ms sine failed every whisper job `internal_error` (faster-whisper's find_alignment: IndexError), and
a batch holding it failed whole, dropping the transcripts it had finished. Whisper decodes a last stretch of one
10 ms mel frame (the whole of that file, or what is left after a 30 s chunk of longer audio) and CTranslate2's
`align` finds no encoder frame to align its words in. Now such a stretch gets no word times, and audio shorter than
MIN_SECONDS is refused `audio_too_short` as music analysis refuses it, per file in a batch.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from tests.contract import assert_shape
from tests.test_api_sessions import upload
from worker.errors import AudioError
from worker.transcription.options import WhisperOptions
from worker.transcription.pipeline import MIN_SECONDS, SAMPLE_RATE, run_transcription, transcribe
from worker.transcription.weights import load_whisper
from worker.transcription.words import words_missing_warning

TOO_SHORT = "at least 0.1 s is needed for transcription"


def _sine(samples: int, sr: int) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / sr)).astype(np.float32)


def _write_short(path, samples: int = 441, sr: int = 44100):
    """The stranger's file: 441 samples at 44.1 kHz, 10 ms (160 samples, one mel frame, at Whisper's 16 kHz)."""
    sf.write(path, _sine(samples, sr), sr)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_whisper("tiny.en", models_dir=tmp_path_factory.mktemp("no_models"), device="cpu", cpu_threads=1)[0]


def test_a_stretch_too_short_to_align_gets_no_word_times(model):
    """The cause: CTranslate2's align reads num_frames // 2 encoder frames, none for one mel frame, and
    faster-whisper's find_alignment indexes the empty path. The model load_whisper gives aligns no words there."""
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(model.hf_tokenizer, False, task="transcribe", language="en")
    encoded = model.encode(model.feature_extractor(_sine(SAMPLE_RATE, SAMPLE_RATE)))
    text = tokenizer.encode(" Hello world")
    assert [len(model.model.align(encoded, tokenizer.sot_sequence, [text], frames)[0].alignments)
            for frames in (1, 2)] == [0, len(text) + 1]  # the empty path of one mel frame
    assert model.find_alignment(tokenizer, [text], encoded, 1) == [[]]
    assert [w["word"] for w in model.find_alignment(tokenizer, [text], encoded, 2)[0]] == [" Hello", " world"]
    # Whisper's own decoding of the stranger's 10 ms: text, which had failed with IndexError
    segments, _ = model.transcribe(_sine(160, SAMPLE_RATE), word_timestamps=True, language="en",
                                   condition_on_previous_text=False)
    out = [{"text": s.text.strip(), "words": list(s.words or [])} for s in segments]
    assert any(s["text"] for s in out), "Whisper wrote nothing: the case no longer shows what it checks"
    assert all(s["words"] == [] for s in out)
    # the result says so where a segment's words went untimed (Whisper's "." here has none to time)
    heard = [{"text": "Hello", "words": []}, {"text": "world.", "words": [{"word": " world."}]}, *out]
    assert words_missing_warning(heard) == ["1 of 2 segments have no word times: Whisper decoded them from a "
                                            "stretch too short to align words in (under 20 ms)"]


def test_audio_shorter_than_min_seconds_is_refused_as_too_short(model, tmp_path):
    with pytest.raises(AudioError, match=TOO_SHORT) as e:
        transcribe(model, _sine(160, SAMPLE_RATE), WhisperOptions())
    assert e.value.code == "audio_too_short" and e.value.message.startswith("the audio lasts 0.01 s")
    one = tmp_path / "one.wav"  # one sample: the resampler makes nothing of it (it had been `no_audio`)
    sf.write(one, np.array([0.3], np.float32), 44100)
    with pytest.raises(AudioError, match=TOO_SHORT) as e:
        run_transcription(audio_path=one, results_dir=tmp_path, options=WhisperOptions(), model=model)
    assert e.value.code == "audio_too_short" and not list(tmp_path.glob("transcript_*"))
    # MIN_SECONDS itself is enough: a transcript (Whisper hears no word in 0.1 s of a sine)
    enough = _write_short(tmp_path / "enough.wav", samples=int(MIN_SECONDS * 44100))
    result = run_transcription(audio_path=enough, results_dir=tmp_path, options=WhisperOptions(), model=model)
    assert result["duration_seconds"] == pytest.approx(MIN_SECONDS, abs=1e-3) and result["files"]


def _job(client, route: str, body: dict) -> dict:
    r = client.post(route, json=body)
    assert r.status_code == 202, r.text
    return client.wait_job(r.json()["job_id"], timeout=300)


def test_whisper_job_on_the_strangers_10_ms_file_fails_audio_too_short(client, session_id, audio_dir):
    upload(client, session_id, _write_short(audio_dir / "short10ms.wav"))
    for options in ({}, {"word_timestamps": False}, {"vad": True}):  # one answer whatever the options
        job = _job(client, f"/process/whisper/{session_id}", {"file": "short10ms.wav", **options})
        assert job["state"] == "failed" and job["error"] == {
            "code": "audio_too_short", "message": f"the audio lasts 0.01 s; {TOO_SHORT}"}, (options, job)


@pytest.mark.needs_espeak
def test_a_batch_keeps_the_good_transcript_and_lists_the_short_file(client, session_id, audio_dir):
    """The stranger's batch had failed whole at 0.62 with `result: null`: now the short file is one of its
    `errors`, as in a pitch batch over the same files."""
    speech = audio_dir / "speech-and-short.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(speech),
                    "The quick brown fox jumps over the lazy dog."], check=True)
    upload(client, session_id, speech)
    upload(client, session_id, _write_short(audio_dir / "short10ms.wav"))
    job = _job(client, f"/process/whisper/{session_id}", {})
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert_shape("BatchResult", result)
    assert [r["files"][0] for r in result["results"]] == ["transcript_speech-and-short.json"]
    # each result names its file, as a features or pitch batch's do (a stranger had only the files' names)
    assert [r["filename"] for r in result["results"]] == ["speech-and-short.wav"]
    assert "fox" in result["results"][0]["text"].lower()
    assert result["errors"] == [{"filename": "short10ms.wav", "code": "audio_too_short",
                                 "message": f"the audio lasts 0.01 s; {TOO_SHORT}"}]
    assert "transcript_speech-and-short.txt" in job["files"] and not any("short10ms" in f for f in job["files"])
    pitch = _job(client, f"/process/pitch/{session_id}", {"include": ["key"]})
    assert pitch["state"] == "succeeded", pitch
    assert [(e["filename"], e["code"]) for e in pitch["result"]["errors"]] == [("short10ms.wav", "audio_too_short")]


def test_lyrics_job_on_the_10_ms_file_fails_audio_too_short(client, session_id, audio_dir):
    """The lyrics job transcribes first: it had failed `internal_error` the same way."""
    upload(client, session_id, _write_short(audio_dir / "short10ms.wav"))
    job = _job(client, f"/process/lyrics/{session_id}", {"file": "short10ms.wav"})
    assert job["state"] == "failed" and job["error"] == {
        "code": "audio_too_short", "message": f"the audio lasts 0.01 s; {TOO_SHORT}"}, job


def test_segment_times_stay_within_the_audio(model, tmp_path):
    """Whisper's timestamp tokens can name a time past the audio: a stranger's transcript of half a second of
    noise ran 0.0-2.0 s, and its subtitles with it. Every time is now kept within the window it was heard in."""
    noise = (0.1 * np.random.default_rng(0).standard_normal(SAMPLE_RATE // 2)).astype(np.float32)
    segments, _ = model.transcribe(noise, language="en", condition_on_previous_text=False)
    assert max(s.end for s in segments) > 0.5, "Whisper kept within the audio: the case no longer shows the fault"
    for words in (False, True):
        out = transcribe(model, noise, WhisperOptions(word_timestamps=words))
        times = [t for s in out["segments"] for t in (s["start"], s["end"], *(v for w in s["words"]
                                                                                for v in (w["start"], w["end"])))]
        assert out["segments"] and all(0.0 <= t <= 0.5 for t in times), out["segments"]
    path = tmp_path / "noise.wav"  # and through the job's own path, subtitles included
    sf.write(path, noise, SAMPLE_RATE)
    result = run_transcription(audio_path=path, results_dir=tmp_path, options=WhisperOptions(), model=model)
    written = json.loads((tmp_path / "transcript_noise.json").read_text())["segments"]
    assert result["segments"] and all(s["end"] <= 0.5 for s in written)
    srt = next(tmp_path.glob("*.srt")).read_text()
    assert "00:00:00,000 --> 00:00:00," in srt and "00:00:02,000" not in srt
