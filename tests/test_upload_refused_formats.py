"""Formats not read here are refused in words a producer knows, with what to do, over real HTTP.

A stranger's tracker modules (pingus-data's .it and .s3m) had been 415 `not_audio` "not a decodable audio file (no
decoder here reads it)", and his CAF and WavPack files 415 "unsupported container/codec caf/pcm_s16be", "wv/wavpack":
FFmpeg's names. The codes stay; the messages name the format, what is accepted and the command that converts it.
(CAF and WavPack are read now: tests/test_upload_caf_wavpack.py.) A MIDI file (kobodeluxe-data's trance1.mid) had
still read "no decoder here reads it".
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_api_sessions import upload

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
GM_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"  # scripts/install.sh's fluid-soundfont-gm


def tracker_header(ext: str) -> bytes:
    """The first bytes of a module of each tracker, as its editor writes them (the magic where players look)."""
    if ext == "it":
        return b"IMPM" + b"tune".ljust(26, b"\0") + bytes(162)
    if ext == "xm":
        return b"Extended Module: " + b"tune".ljust(20, b"\0") + b"\x1aFastTracker v2.00   \x04\x01" + bytes(300)
    if ext == "s3m":
        return b"tune".ljust(28, b"\0") + b"\x1a\x10" + bytes(14) + b"SCRM" + bytes(100)
    return b"tune".ljust(20, b"\0") + bytes(30 * 31) + b"\x01\x7f" + bytes(128) + b"M.K." + bytes(1024)


@pytest.mark.parametrize("ext, name", [("it", "Impulse Tracker module"), ("xm", "FastTracker 2 module"),
                                       ("s3m", "Scream Tracker 3 module"), ("mod", "ProTracker module")])
def test_a_tracker_module_is_refused_with_the_command_that_renders_it(client, session_id, tmp_path, ext, name):
    path = tmp_path / f"tune.{ext}"
    path.write_bytes(tracker_header(ext))
    r = upload(client, session_id, path)
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["code"] == "not_audio", error
    assert f"{name} (.{ext})" in error["message"], error
    assert f"ffmpeg -i tune.{ext} tune.flac" in error["message"] and "WAV, FLAC" in error["message"], error
    assert str(tmp_path) not in error["message"], error


def write_midi(path) -> None:
    """Four bars of C major chords, as a sequencer writes them (pretty_midi)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    for bar in range(4):
        for pitch in (60, 64, 67):
            piano.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=2.0 * bar, end=2.0 * bar + 1.9))
    pm.instruments.append(piano)
    pm.write(str(path))


def test_a_midi_file_is_refused_with_the_command_that_renders_it(client, session_id, tmp_path):
    path = tmp_path / "song.mid"
    write_midi(path)
    r = upload(client, session_id, path)
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["code"] == "not_audio", error
    message = error["message"]
    assert "Standard MIDI File (.mid), a score rather than a recording" in message, error
    assert "no decoder" not in message and "accepted: WAV, FLAC" in message, error
    assert str(tmp_path) not in message, error
    command = message.split("`")[1]
    assert command == f"fluidsynth -ni -F song.wav -r 44100 {GM_SOUNDFONT} song.mid", message
    if shutil.which("fluidsynth") is None or not Path(GM_SOUNDFONT).exists():
        return
    # the command the message gives renders the file into audio the upload takes
    subprocess.run(command.split(), cwd=tmp_path, check=True, capture_output=True, timeout=120)
    r = upload(client, session_id, tmp_path / "song.wav")
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["duration_seconds"] >= 7.5, r.text


@pytest.mark.parametrize("name, args, words", [
    ("take.w64", (), "Sony Wave64 (.w64)"), ("voice.au", (), "Sun/NeXT audio (.au)"),
    ("mix.tta", (), "True Audio (.tta)"), ("voice.caf", ("-c:a", "libopus"), "Core Audio Format with OPUS audio")])
def test_formats_not_read_here_are_refused_in_words(client, session_id, tmp_path, name, args, words):
    """CAF and WavPack, refused here before, are taken now (tests/test_upload_caf_wavpack.py); the other containers
    FFmpeg reads and the upload does not take, and a CAF holding a codec not taken in one (Opus), are still refused
    in words."""
    path = tmp_path / name
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=2", *args, str(path)],
                   check=True)
    r = upload(client, session_id, path)
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["code"] == "unsupported_format", error
    message = error["message"]
    assert words in message and "accepted: WAV, FLAC" in message and "ffmpeg -i in." in message, error
    assert "CAF (PCM, ALAC, AAC, IMA4), WavPack" in message, error
    assert "pcm_" not in message and "container/codec" not in message, error
