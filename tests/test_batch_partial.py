"""A running batch shows the files it has finished: GET /jobs/<id> `partial_result`, and a progress event per file.

A stranger's batch had listed no finished file until the whole batch ended. The batch runs in this process on a
real job record in Redis (started as a worker starts it), with real features analyses; while it is on its third
file, the job is read over real HTTP: its record and its event stream, replayed from the start.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from jobs.runner import JobContext, for_each_file
from tests.audio_synth import sine, write
from tests.conftest import USER
from tests.sse import SseStream
from worker.errors import MusicAnalyzerError
from worker.features.options import FeaturesOptions
from worker.features.pipeline import run_features
from worker.files import recording_writes, write_text_atomic


def alive_worker(svc) -> str:
    """A worker name with a heartbeat: the test runs the batch in this process as that worker."""
    name = f"batch-partial-{uuid.uuid4().hex[:8]}"
    svc.workers.beat(name)
    return name


@contextmanager
def beating(svc, name: str) -> Iterator[None]:
    """The worker's heartbeat while the test runs its batch, as a real worker beats: on a loaded machine one file's
    analysis outlived a single beat, and the real worker's recovery re-queued the job mid-test."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(0.1):
            svc.workers.beat(name)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_a_running_batch_lists_its_finished_files_and_errors(app, client, other_client):
    svc = app.extensions["music_analyzer"]
    sid = client.post("/sessions").json()["session_id"]
    store = svc.sessions.of(USER)
    names = ["a.wav", "b.wav", "c.wav"]
    for i, name in enumerate(names):
        write(store.uploads_dir(sid) / name, sine(311.0 + 7 * i, 0.6))
    job = svc.jobs.create(owner=USER, job_type="features", session_id=sid, queue="cpu", task="t",
                          params={"files": names, "batch": True, "options": {}})
    job_id = job["job_id"]
    worker = alive_worker(svc)
    assert svc.jobs.start(job_id, worker=worker, max_attempts=3) == "run"
    seen: dict = {}

    def run_one(*, audio_path, results_dir, options, progress):
        if audio_path.name == "b.wav":
            raise MusicAnalyzerError("this file could not be read", code="unreadable_audio")
        if audio_path.name == "c.wav":  # a and b are done: what does a client see now?
            seen["record"] = client.get(f"/jobs/{job_id}").json()
            seen["other"] = other_client.get(f"/jobs/{job_id}").status_code
            headers = {"Last-Event-ID": "0-0", "Accept": "text/event-stream"}
            with SseStream(client.get(f"/jobs/{job_id}/events", headers=headers, stream=True, timeout=30)) as s:
                events = []
                while len([e for e in events if "finished_file" in e]) < 2:
                    event = s.next()
                    assert event is not None, "the stream ended while the job runs"
                    if event.event == "progress":
                        events.append(event.json())
            seen["events"] = events
            with SseStream(client.get(f"/jobs/{job_id}/events", headers={"Accept": "text/event-stream"},
                                      stream=True, timeout=30)) as s:  # joined midway: the batch so far first
                seen["opening"] = s.next()
        result = run_features(audio_path=audio_path, results_dir=results_dir, options=options, progress=progress)
        progress(1.0, "done")  # as the whisper, separation and LLM pipelines end
        return result

    ctx = JobContext(job_id=job_id, job_type="features", owner=USER, session_id=sid, files=names, batch=True,
                     options=FeaturesOptions(), settings=app.config, services=svc,
                     attempt=svc.jobs.get(job_id)["attempts"])
    with app.app_context(), beating(svc, worker):  # alive: the real worker's recovery leaves its job alone
        out = for_each_file(ctx, svc.jobs.reporter(job_id), run_one)

    record = seen["record"]
    assert record["state"] == "running" and "result" not in record
    partial = record["partial_result"]
    assert partial["batch"] is True
    assert [r["filename"] for r in partial["results"]] == ["a.wav"]
    # each finished file's name and result files (its whole result is in its JSON, and in the batch's at the end)
    assert partial["results"][0] == {"filename": "a.wav", "files": out["results"][0]["files"]}
    assert [(e["filename"], e["code"]) for e in partial["errors"]] == [("b.wav", "unreadable_audio")]
    assert record["progress"] >= 2 / 3 - 1e-3
    assert seen["other"] == 404  # another user sees nothing of it, partial or not
    finished = [e["finished_file"] for e in seen["events"] if "finished_file" in e]
    assert [f["filename"] for f in finished] == ["a.wav", "b.wav"]
    assert finished[0]["files"] == out["results"][0]["files"] and finished[1]["code"] == "unreadable_audio"
    assert all(e["state"] == "running" and 0 <= e["progress"] <= 1 for e in seen["events"])
    # a file's "done" is not the batch's (a whisper batch had said so after each file), its "finished a.wav" is
    stages = [e["stage"] for e in seen["events"]]
    assert "done" not in stages and stages.count("finished a.wav") == 1, stages  # once, with its `finished_file`
    opening = seen["opening"]
    assert opening.event == "state" and opening.json()["partial_result"] == partial, opening

    svc.jobs.succeed(job_id, out)
    svc.workers.remove(worker)
    done = client.get(f"/jobs/{job_id}").json()
    assert done["state"] == "succeeded" and "partial_result" not in done  # the result says it all now
    assert [r["filename"] for r in done["result"]["results"]] == ["a.wav", "c.wav"]


def test_a_retried_batch_does_not_show_its_earlier_attempts_files(app, client):
    svc = app.extensions["music_analyzer"]
    sid = client.post("/sessions").json()["session_id"]
    job = svc.jobs.create(owner=USER, job_type="features", session_id=sid, queue="cpu", task="t",
                          params={"files": ["a.wav"], "batch": True, "options": {}})
    job_id = job["job_id"]
    worker = alive_worker(svc)
    assert svc.jobs.start(job_id, worker=worker, max_attempts=3) == "run"
    entry = {"filename": "a.wav", "files": ["features_a.json"]}
    assert svc.jobs.file_finished(job_id, 0.5, attempt=1, entry=entry, results=[entry], errors=[])
    assert client.get(f"/jobs/{job_id}").json()["partial_result"]["results"] == [entry]
    # its process was killed; the job is delivered again (attempt 2), which has finished nothing yet
    svc.workers.beat(worker)
    assert svc.jobs.start(job_id, worker=worker, max_attempts=3) == "run"
    assert "partial_result" not in client.get(f"/jobs/{job_id}").json()
    svc.jobs.fail(job_id, {"code": "x", "message": "y"})
    assert not svc.jobs.file_finished(job_id, 1.0, attempt=2, entry=entry, results=[entry], errors=[])
    svc.workers.remove(worker)


def test_a_batch_whose_worker_died_keeps_the_sets_it_finished_and_no_half_set(app, client):
    """Taken back after its worker died (here: its attempts used up, as a third delivery finds it): the whole set
    of the file it had finished stays and is listed; of the file it was on, what it wrote is taken back (a
    stranger's batch killed twice had lost the finished sets)."""
    svc = app.extensions["music_analyzer"]
    sid = client.post("/sessions").json()["session_id"]
    results = svc.sessions.of(USER).results_dir(sid)
    write_text_atomic(results / "pitch_b.json", "an earlier run's")
    write_text_atomic(results / "pitch_b.mid", "an earlier run's")
    write_text_atomic(results / "pitch_c.json", "another file's, untouched")
    job = svc.jobs.create(owner=USER, job_type="pitch", session_id=sid, queue="cpu", task="t",
                          params={"files": ["a.wav", "b.wav"], "batch": True, "options": {}})
    job_id, worker = job["job_id"], alive_worker(svc)
    assert svc.jobs.start(job_id, worker=worker, max_attempts=1) == "run"

    def noted(path, becomes, restores):  # as the runner
        svc.jobs.writes.note(job_id, 1, path, becomes, restores=restores)

    with recording_writes(on_write=noted):
        write_text_atomic(results / "pitch_a.json", "{}")
        write_text_atomic(results / "pitch_a.mid", "a's")
        entry = {"filename": "a.wav", "files": ["pitch_a.json", "pitch_a.mid"], "tempo_bpm": 120.0}
        assert svc.jobs.file_finished(job_id, 0.5, attempt=1, entry=entry, results=[entry], errors=[])
        write_text_atomic(results / "pitch_b.json", "half of b's new set")  # then the process is killed
        assert len(list(results.glob(".pitch_b.json.*.earlier"))) == 1  # the earlier JSON, kept aside
    svc.workers.remove(worker)
    assert svc.jobs.start(job_id, worker=alive_worker(svc), max_attempts=1) == "exhausted"
    done = client.get(f"/jobs/{job_id}").json()
    assert done["state"] == "failed" and done["error"]["code"] == "worker_lost"
    assert done["result"] == {"batch": True, "results": [{"filename": "a.wav",
                                                          "files": ["pitch_a.json", "pitch_a.mid"]}], "errors": []}
    assert sorted(done["files"]) == ["pitch_a.json", "pitch_a.mid"]
    # the earlier run's JSON of b, which the attempt had replaced, is back beside its MIDI: its set whole (it had
    # been lost with the attempt, the earlier set left halved); no hidden copy is left
    assert sorted(p.name for p in results.iterdir()) == ["pitch_a.json", "pitch_a.mid", "pitch_b.json",
                                                         "pitch_b.mid", "pitch_c.json"]
    assert (results / "pitch_b.json").read_text() == "an earlier run's"
    assert "partial" not in svc.jobs.get(job_id)  # the end's result says it all


def test_a_batch_killed_twice_lists_what_its_first_attempt_finished_and_the_second_did_not_redo(app, client):
    """A stranger's batch killed after two files, run again and killed after one: the failed job listed that one,
    and the second file's set, finished by the first attempt and whole on disk, was listed by no job. It is listed,
    and the half set the second attempt was writing over it is taken back, the first attempt's put back."""
    svc = app.extensions["music_analyzer"]
    sid = client.post("/sessions").json()["session_id"]
    results = svc.sessions.of(USER).results_dir(sid)
    job_id = svc.jobs.create(owner=USER, job_type="pitch", session_id=sid, queue="cpu", task="t",
                             params={"files": ["a.wav", "b.wav", "c.wav"], "batch": True, "options": {}})["job_id"]

    def killed_attempt(n: int, finished: list[str], on: str) -> None:
        worker = alive_worker(svc)
        assert svc.jobs.start(job_id, worker=worker, max_attempts=2) == "run"

        def noted(path, becomes, restores):  # as the runner
            svc.jobs.writes.note(job_id, n, path, becomes, restores=restores)

        done: list[dict] = []
        with recording_writes(on_write=noted):
            for name in finished:
                write_text_atomic(results / f"pitch_{name}.json", f"attempt {n}")
                done.append({"filename": f"{name}.wav", "files": [f"pitch_{name}.json"]})
                assert svc.jobs.file_finished(job_id, 0.3, attempt=n, entry=done[-1], results=done, errors=[])
            write_text_atomic(results / f"pitch_{on}.json", f"half of attempt {n}")  # then the process is killed
        svc.workers.remove(worker)

    killed_attempt(1, ["a", "b"], on="c")
    killed_attempt(2, ["a"], on="b")
    assert svc.jobs.start(job_id, worker=alive_worker(svc), max_attempts=2) == "exhausted"
    done = client.get(f"/jobs/{job_id}").json()
    assert done["state"] == "failed" and done["error"]["code"] == "worker_lost"
    assert done["result"]["results"] == [{"filename": "a.wav", "files": ["pitch_a.json"]},
                                         {"filename": "b.wav", "files": ["pitch_b.json"]}]
    assert sorted(done["files"]) == ["pitch_a.json", "pitch_b.json"]
    assert {p.name: p.read_text() for p in results.iterdir()} == {"pitch_a.json": "attempt 2",
                                                                  "pitch_b.json": "attempt 1"}
    assert "kept" not in svc.jobs.get(job_id)  # the end's result says it all
