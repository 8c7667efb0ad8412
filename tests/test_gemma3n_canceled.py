"""A canceled audio-LLM analysis keeps what it had written, as a canceled generation does.

A canceled `POST /api/v2/models/generate` kept its text (`finish_reason` canceled), a canceled `gemma_3n` analysis
nothing: its passes' text was dropped with the job. Over real HTTP, the real GPU worker and SmolLM2: the job is
canceled once its own progress events say the answer's first tokens are out, and its `result` and the session's
`partial_analysis_...` files hold the text so far, marked canceled and partial in the listing.
"""

from __future__ import annotations

import subprocess

import pytest

from jobs.event_log import NO_EVENT_ID
from tests.audio_synth import sine, write
from tests.conftest import USER
from tests.contract import assert_shape
from tests.sse import open_stream
from tests.test_api_sessions import upload, user_session_dir

LONG = "After the analysis, write the numbers from 1 to 300, separated by commas."  # greedy: far past the cancel


def _tokens_out(event) -> bool:
    return event.event == "progress" and ((event.json().get("generation") or {}).get("tokens_generated") or 0) >= 1


def test_an_analysis_canceled_midway_keeps_its_text_marked_partial(client, settings, session_id, audio_dir,
                                                                   smollm2_folder):
    upload(client, session_id, write(audio_dir / "hum.wav", sine(220, 3.0, channels=2)))
    options = {"task": "analyze", "model_variant": "smollm2-135m", "temperature": 0, "file": "hum.wav"}
    r = client.post(f"/process/gemma_3n/{session_id}", json={**options, "max_new_tokens": 600, "prompt": LONG})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    # the whole log from its start: the first progress report with a token written (the worker looks for a cancel
    # right after writing it, then every 8 tokens)
    with open_stream(client.base, job_id, client.s.auth, NO_EVENT_ID) as events:
        while (event := events.next()) is not None and not _tokens_out(event):
            continue
    assert event is not None, client.get(f"/jobs/{job_id}").text  # the stream ended: how the job did
    canceled = client.delete(f"/jobs/{job_id}")
    assert canceled.status_code == 202 and canceled.json()["state"] == "cancel_requested", canceled.text
    final = client.wait_job(job_id, timeout=300)
    assert final["state"] == "canceled", final
    assert_shape("Job", final)
    result = final["result"]
    assert result["finish_reason"] == "canceled" and result["partial"] is True, result
    assert result["analysis_summary"].strip() and 1 <= result["tokens_generated"] < 600, result
    assert [p["finish_reason"] for p in result["passes"]] == ["canceled"], result["passes"]  # SmolLM2: one text pass
    assert result["warnings"][0].startswith("the analysis was canceled"), result["warnings"]
    json_name, txt_name = result["output_json_file"], result["output_text_file"]
    assert (json_name, txt_name) == ("partial_analysis_smollm2-135m_analyze_hum.json",
                                     "partial_analysis_smollm2-135m_analyze_hum.txt")
    assert sorted(final["files"]) == sorted(result["files"]) == sorted([json_name, txt_name])
    # in the session: whole files (written atomically: no temporary part left), listed as partial
    listed = {f["name"]: f for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert {n: (listed[n]["partial"], listed[n]["upload_stem"]) for n in (json_name, txt_name)} == {
        json_name: (True, "hum"), txt_name: (True, "hum")}, listed
    stored = client.get(f"/sessions/{session_id}/files/{json_name}").json()
    assert stored["analysis_summary"] == result["analysis_summary"] and stored["finish_reason"] == "canceled"
    text = client.get(f"/sessions/{session_id}/files/{txt_name}").text
    assert text.startswith("CANCELED: a partial analysis") and result["analysis_summary"].strip() in text
    results = user_session_dir(settings, USER, session_id) / "results"
    assert sorted(p.name for p in results.iterdir()) == sorted([json_name, txt_name])

    # a finished analysis of the same file is written beside it under its own names, and removes the partial one
    r = client.post(f"/process/gemma_3n/{session_id}", json={**options, "max_new_tokens": 8})
    assert r.status_code == 202, r.text
    done = client.wait_job(r.json()["job_id"], timeout=300)
    assert done["state"] == "succeeded" and "partial" not in done["result"], done
    listed = {f["name"]: f["partial"] for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert listed == {"analysis_smollm2-135m_analyze_hum.json": False,
                      "analysis_smollm2-135m_analyze_hum.txt": False}, listed


def test_a_batch_canceled_in_its_second_file_keeps_the_first_whole_and_the_second_partial(client, session_id,
                                                                                           audio_dir, smollm2_folder):
    """A batch canceled midway kept the files it had finished; the file it was on is kept too now, as its partial
    analysis after them, where its text had been dropped."""
    upload(client, session_id, write(audio_dir / "a.wav", sine(220, 2.0)), write(audio_dir / "b.wav", sine(330, 2.0)))
    # 120 tokens: the first file's answer stops there (the numbers go on), the second is canceled well before it
    r = client.post(f"/process/gemma_3n/{session_id}", json={
        "task": "analyze", "model_variant": "smollm2-135m", "temperature": 0, "files": ["a.wav", "b.wav"],
        "max_new_tokens": 120, "prompt": LONG})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    with open_stream(client.base, job_id, client.s.auth, NO_EVENT_ID) as events:
        first_done = False
        while (event := events.next()) is not None and not (first_done and _tokens_out(event)):
            first_done = first_done or (event.event == "progress" and "finished_file" in event.json())
    assert event is not None, client.get(f"/jobs/{job_id}").text
    assert client.delete(f"/jobs/{job_id}").json()["state"] == "cancel_requested"
    final = client.wait_job(job_id, timeout=300)
    assert final["state"] == "canceled", final
    result = final["result"]
    assert result["batch"] is True and result["canceled_at"] == "b.wav" and result["errors"] == [], result
    first, second = result["results"]
    assert first["filename"] == "a.wav" and first["finish_reason"] != "canceled" and "partial" not in first
    assert second["filename"] == "b.wav" and second["finish_reason"] == "canceled" and second["partial"] is True
    assert second["analysis_summary"].strip() and 1 <= second["tokens_generated"] < 120, second
    files = ["analysis_smollm2-135m_analyze_a.json", "analysis_smollm2-135m_analyze_a.txt",
             "partial_analysis_smollm2-135m_analyze_b.json", "partial_analysis_smollm2-135m_analyze_b.txt"]
    assert sorted(final["files"]) == files, final["files"]
    listed = {f["name"]: f["partial"] for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert listed == {name: name.startswith("partial_") for name in files}, listed


def _cancel_once_written(client, job_id: str) -> dict:
    """Cancel the job once its own progress events say its answer's first token is out; its final record."""
    with open_stream(client.base, job_id, client.s.auth, NO_EVENT_ID) as events:
        while (event := events.next()) is not None and not _tokens_out(event):
            continue
    assert event is not None, client.get(f"/jobs/{job_id}").text
    assert client.delete(f"/jobs/{job_id}").json()["state"] == "cancel_requested"
    return client.wait_job(job_id, timeout=300)


def test_a_comparison_canceled_midway_keeps_its_text_marked_partial(client, session_id, audio_dir, smollm2_folder):
    """Compare generates once, as the generate route does: canceled, it had kept nothing."""
    upload(client, session_id, write(audio_dir / "a.wav", sine(220, 2.0)), write(audio_dir / "b.wav", sine(330, 2.0)))
    r = client.post(f"/process/compare/{session_id}", json={"files": ["a.wav", "b.wav"], "temperature": 0,
                                                            "max_new_tokens": 700, "model_variant": "smollm2-135m"})
    assert r.status_code == 202, r.text
    final = _cancel_once_written(client, r.json()["job_id"])
    assert final["state"] == "canceled", final
    assert_shape("Job", final)
    result = final["result"]
    assert result["finish_reason"] == "canceled" and result["partial"] is True and result["comparison"].strip()
    assert 1 <= result["tokens_generated"] < 700 and result["files_compared"] == ["a.wav", "b.wav"], result
    assert sorted(final["files"]) == sorted(result["files"]) and all(
        n.startswith("partial_compare_") for n in result["files"]), result["files"]
    listed = {f["name"]: f["partial"] for f in client.get(f"/sessions/{session_id}").json()["results"]}
    assert listed == {n: True for n in result["files"]}, listed
    text = client.get(f"/sessions/{session_id}/files/{result['files'][1]}").text
    assert text.startswith("CANCELED: a partial comparison") and result["comparison"].strip() in text


@pytest.mark.needs_espeak
def test_a_lyrics_analysis_canceled_midway_keeps_its_text_marked_partial(client, session_id, audio_dir,
                                                                          smollm2_folder):
    """Lyrics generate once over the transcript: canceled, they had kept nothing."""
    wav = audio_dir / "song.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav),
                    "Walking down the river road tonight. The rain keeps falling on my town."], check=True)
    upload(client, session_id, wav)
    r = client.post(f"/process/whisper/{session_id}", json={"file": "song.wav"}, headers={"Prefer": "wait=300"})
    assert r.status_code == 200 and r.json()["state"] == "succeeded", r.text
    r = client.post(f"/process/lyrics/{session_id}", json={"file": "song.wav", "model_variant": "smollm2-135m",
                                                           "temperature": 0, "max_new_tokens": 600})
    assert r.status_code == 202, r.text
    final = _cancel_once_written(client, r.json()["job_id"])
    assert final["state"] == "canceled", final
    assert_shape("Job", final)
    result = final["result"]
    assert result["finish_reason"] == "canceled" and result["partial"] is True and result["analysis_text"].strip()
    assert sorted(final["files"]) == sorted(result["files"]) == ["partial_lyrics_song.json", "partial_lyrics_song.txt"]
    results = client.get(f"/sessions/{session_id}").json()["results"]
    listed = {f["name"]: (f["partial"], f["upload_stem"]) for f in results if f["name"].endswith("lyrics_song.json")}
    assert listed == {"partial_lyrics_song.json": (True, "song")}, listed
    assert client.get(f"/sessions/{session_id}/files/partial_lyrics_song.txt").text.startswith("CANCELED: a partial")
