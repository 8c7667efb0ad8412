"""A batch whose one file meets an unexpected error (a bug, a library's own exception) goes on with the others.

It had failed the whole batch `internal_error`, taking back the finished sets of the files before it. Now that
file is listed in `errors` as `internal_error` (no exception text: the traceback goes to the worker's log), and a
file that failed after writing part of its set (a JSON without its picture) leaves none of it. The other files are
analysed for real (features); the failing file's analysis is the real one too, then breaks after its first write.
"""

from __future__ import annotations

import logging
import uuid

import pytest

from jobs.runner import JobContext, for_each_file
from tests.audio_synth import sine, write
from tests.conftest import USER
from worker import files
from worker.errors import MusicAnalyzerError
from worker.features.options import FeaturesOptions
from worker.features.pipeline import run_features
from worker.files import recording_writes, write_json_atomic, write_text_atomic


class Broke(RuntimeError):
    pass


def breaking_after_a_write(bad: str, error: Exception):
    """run_features, but for the upload named `bad`: its set's first file written, then `error`."""

    def run_one(*, audio_path, results_dir, options, progress):
        result = run_features(audio_path=audio_path, results_dir=results_dir, options=options, progress=progress)
        if audio_path.name == bad:
            write_json_atomic(results_dir / "features_b.partial.json", {"half": "a set"})
            raise error
        return result

    return run_one


@pytest.mark.parametrize("error", [Broke("boom in /srv/secret/path.py"),
                                   MusicAnalyzerError("this file could not be read", code="unreadable_audio")],
                         ids=["unexpected", "known"])
def test_one_file_failing_leaves_no_half_set_and_the_others_are_analysed(app, caplog, error):
    svc = app.extensions["music_analyzer"]
    sid = uuid.uuid4().hex
    store = svc.sessions.of(USER)
    store.create(sid)
    uploads, results_dir = store.uploads_dir(sid), store.results_dir(sid)
    names = ["a.wav", "b.wav", "c.wav"]
    for i, name in enumerate(names):
        write(uploads / name, sine(311.0 + 7 * i, 0.6))
    ctx = JobContext(job_id=f"crash-{sid[:8]}", job_type="features", owner=USER, session_id=sid, files=names,
                     batch=True, options=FeaturesOptions(), settings=app.config, services=svc)
    caplog.set_level(logging.ERROR, logger="jobs.runner")
    with app.app_context(), recording_writes() as written:
        out = for_each_file(ctx, lambda *_: None, breaking_after_a_write("b.wav", error))
    assert [r["filename"] for r in out["results"]] == ["a.wav", "c.wav"]
    [failed] = out["errors"]
    assert failed["filename"] == "b.wav"
    if isinstance(error, Broke):
        assert failed["code"] == "internal_error" and ctx.job_id in failed["message"]
        assert "boom" not in failed["message"] and "/srv" not in failed["message"]
        assert "Broke: boom" in caplog.text  # the details are in the log
    else:
        assert failed["code"] == "unreadable_audio" and failed["message"] == "this file could not be read"
    listed = sorted(f for r in out["results"] for f in r["files"])
    assert sorted(p.name for p in results_dir.iterdir()) == listed  # whole sets of a and c, nothing of b
    assert {n.split("_", 1)[1].rsplit(".", 1)[0] for n in listed} == {"a", "c"}
    assert any(p.name.startswith("features_b") for p in written)  # b's set had been written, then taken back


def test_a_batch_whose_every_file_crashes_fails_internal_error_without_details(app):
    svc = app.extensions["music_analyzer"]
    sid = uuid.uuid4().hex
    store = svc.sessions.of(USER)
    store.create(sid)
    write(store.uploads_dir(sid) / "b.wav", sine(333.0, 0.6))
    ctx = JobContext(job_id=f"crash-{sid[:8]}", job_type="features", owner=USER, session_id=sid, files=["b.wav"],
                     batch=True, options=FeaturesOptions(), settings=app.config, services=svc)
    with app.app_context(), recording_writes(), pytest.raises(MusicAnalyzerError) as raised:
        for_each_file(ctx, lambda *_: None, breaking_after_a_write("b.wav", Broke("boom /srv/x")))
    assert raised.value.code == "internal_error" and "boom" not in raised.value.message
    assert list(store.results_dir(sid).iterdir()) == []


def test_a_re_run_whose_file_fails_puts_the_earlier_runs_set_back(app):
    """A re-run replaces a file's set as it writes it: failing midway, it took back its own files and the earlier
    run's set was left halved (the replaced ones gone, a removed sibling too). The earlier set is put back whole;
    the finished file's new set stays; once the job has ended no hidden copy is left."""
    svc = app.extensions["music_analyzer"]
    sid = uuid.uuid4().hex
    store = svc.sessions.of(USER)
    store.create(sid)
    uploads, results_dir = store.uploads_dir(sid), store.results_dir(sid)
    for i, name in enumerate(["a.wav", "b.wav"]):
        write(uploads / name, sine(311.0 + 7 * i, 0.6))
    earlier = ["features_a.json", "features_a.png", "features_a.txt", "features_b.json", "features_b.png",
               "features_b.txt"]
    stale = results_dir / "features_a.mid"  # a sibling no features run writes: a's finished run removes it
    write_text_atomic(stale, "an earlier run's")
    for name in earlier:
        write_text_atomic(results_dir / name, f"an earlier run's {name}")
    ctx = JobContext(job_id=f"rerun-{sid[:8]}", job_type="features", owner=USER, session_id=sid,
                     files=["a.wav", "b.wav"], batch=True, options=FeaturesOptions(), settings=app.config, services=svc)
    with app.app_context(), recording_writes() as written:
        out = for_each_file(ctx, lambda *_: None, breaking_after_a_write("b.wav", Broke("boom")))
    assert [r["filename"] for r in out["results"]] == ["a.wav"] and out["errors"][0]["filename"] == "b.wav"
    files.drop_earlier(written)  # as the runner does once the job has ended
    assert sorted(p.name for p in results_dir.iterdir()) == sorted(earlier)  # no hidden copy among them
    for name in earlier:
        content = (results_dir / name).read_bytes()
        assert (content == f"an earlier run's {name}".encode()) == name.startswith("features_b"), name
    # a set taken back whole, after its run had removed a stale sibling: the sibling is back with it
    with recording_writes() as written:
        write_text_atomic(results_dir / "features_a.json", "a run killed before its end")
        files.remove_stale_siblings(results_dir, {"features_a.json"})
        assert not (results_dir / "features_a.png").exists()
        files.take_back(written)
    assert sorted(p.name for p in results_dir.iterdir()) == sorted(earlier)
    assert b"earlier" not in (results_dir / "features_a.json").read_bytes()  # a's finished set, as it was
