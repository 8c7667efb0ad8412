"""Which upload a session's result was made from (api/result_sources.py), as GET /sessions/<id> says in each result's
`upload_stem`: read from the name its writer gave it, the kind whole. The page had guessed from the name's end, and a
deleted my_x.wav's `analysis_<model>_<task>_my_x.json` was a listed x.wav's."""

from __future__ import annotations

import pytest

from api.result_sources import kinds, upload_stem
from config import MODEL_REGISTRY
from tests.contract import assert_shape
from worker.audio_llm.files import result_names
from worker.audio_llm.options import TASKS
from worker.separation.options import KNOWN_STEMS


def test_no_kind_is_another_kinds_start_so_a_name_reads_one_way_only():
    known = kinds()
    assert [(a, b) for a in known for b in known if b.startswith(f"{a}_")] == []


@pytest.mark.parametrize("stem", ["x", "my_x", "x_my", "pitch_x", "no_vocals", "a.b", "analysis_x"])
def test_every_name_a_writer_gives_is_read_back_to_its_uploads_stem(stem):
    names = [f"{kind}_{stem}.{ext}" for kind in ("pitch", "features", "transcript", "lyrics")
             for ext in ("json", "txt")]
    names += [f"{s}_{stem}.wav" for s in KNOWN_STEMS] + [f"no_{s}_{stem}.flac" for s in KNOWN_STEMS]
    names += [n for model in MODEL_REGISTRY for task in TASKS for n in result_names(model, task, stem)]
    assert {n: upload_stem(n) for n in names} == dict.fromkeys(names, stem)


def test_a_result_of_no_one_upload_has_none():
    for name in ("compare_0123456789ab.json", "musicgen_0123456789ab.wav", "notes.txt", "analysis_x.json",
                 "analysis_unknown-model_analyze_x.json", "pitch.json"):
        assert upload_stem(name) is None, name


def test_the_session_read_names_each_results_upload(client, session_id, audio_dir, settings):
    """Over HTTP: a deleted my_x.wav's results stay `my_x`'s, not the listed x.wav's whose name theirs end with."""
    from tests.audio_synth import sine, write
    from tests.conftest import USER
    from tests.test_api_sessions import upload, user_session_dir
    from tests.web_results import pitch_of, put_results

    for name in ("x.wav", "my_x.wav"):
        assert upload(client, session_id, write(audio_dir / name, sine(440, 0.5))).status_code == 201
        put_results(settings, session_id, name, pitch_of(0.5), stems=("no_vocals",))
    assert client.delete(f"/sessions/{session_id}/files/my_x.wav").status_code == 200
    results = user_session_dir(settings, USER, session_id) / "results"
    (results / "analysis_phi-4-multimodal_transcribe_my_x.json").write_text("{}")
    (results / "compare_0123456789ab.json").write_text("{}")
    r = client.get(f"/sessions/{session_id}")
    assert r.status_code == 200
    assert_shape("Session", r.json())  # as the OpenAPI description says it
    assert {f["name"]: f["upload_stem"] for f in r.json()["results"]} == {
        "analysis_phi-4-multimodal_transcribe_my_x.json": "my_x", "compare_0123456789ab.json": None,
        "no_vocals_my_x.wav": "my_x", "no_vocals_x.wav": "x", "pitch_my_x.json": "my_x", "pitch_x.json": "x"}
