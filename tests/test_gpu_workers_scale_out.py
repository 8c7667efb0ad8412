"""Two GPU workers: jobs that need a model's weights run on the worker that has them; unload reaches the holder.

A stranger's second GPU worker (`-Q gpu -n gpu-2@%h`), its MODELS_DIR unable to hold SmolLM2's conversion, failed about
half of the generate jobs (model_error "could not convert ..."), and after a load on `gpu@` three unloads in a row went
to the idle `gpu-2@`, answered `"unloaded": null`, the status still saying smollm2-135m loaded. Real processes here:
the API over HTTP, two `celery worker -Q <gpu>` processes on one Redis (`gpu@`, SmolLM2's converted folder; `gpu-2@`,
a MODELS_DIR that cannot be made, as the stranger's), the real SmolLM2; then `gpu@` killed with `kill -9` mid-job.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN, ADMIN_PASSWORD, Client, node_of, serving
from tests.test_resilience import ROOT, stop_all
from tests.test_worker_redis_away_log import Followed

GENERATE = {"prompt": "Name a colour.", "max_length": 6, "temperature": 0}
# a generation that runs for minutes here (greedy: the same each time), to be canceled or killed midway
COUNTING = {"prompt": "Count from 1 to 5000, separated by commas.", "max_length": 4000, "temperature": 0,
            "model_type": "smollm2-135m"}


def started(env: dict, name: str, log: Path):
    """A solo worker of `env`'s GPU queue named `name` started, its log followed; not yet waited for."""
    import subprocess

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "make_celery", "worker", "--pool", "solo", "--concurrency", "1",
         "-Q", env["GPU_QUEUE"], "-n", name, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return worker, Followed(worker, log)


def ready(name: str, out: Followed) -> None:
    assert out.wait_count(f"{name} ready", 1, timeout=180), "".join(out.lines)


def gpu_worker(env: dict, name: str, log: Path):
    """A solo worker of `env`'s GPU queue named `name`, its log followed, once `ready` (it takes jobs)."""
    worker, out = started(env, name, log)
    ready(name, out)
    return worker, out


def stop_together(workers: list) -> None:
    """stop_all's stop (terminate, kill after 30 s), sent to every worker before waiting for any: the module's three
    or four workers had been stopped one after another (~7 s of its teardown under load)."""
    import subprocess

    running = [w for w in workers if w is not None and w.poll() is None]
    for w in running:
        w.terminate()
    for w in running:
        try:
            w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait(timeout=30)


@pytest.fixture(scope="module")
def two_gpu_workers(settings, redis_url, smollm2_folder, tmp_path_factory) -> Iterator[dict]:
    """The API and two GPU workers on queues of their own: `gpu@` has SmolLM2, `gpu-2@` cannot get it."""
    from app import create_app

    tmp = tmp_path_factory.mktemp("two-gpu")
    token = uuid.uuid4().hex[:8]
    # the API's MODELS_DIR: a tiny Phi-4-reasoning, which only a worker started later shares (the last test)
    from config import MODEL_REGISTRY
    from tests.tiny_llms import build_tiny_phi3

    build_tiny_phi3(tmp / "api-models" / MODEL_REGISTRY["phi-4-reasoning"]["repo_id"])
    own = {**settings, "DATA_DIR": str(tmp / "data"), "GPU_QUEUE": f"gpu-two-{token}",
           "CPU_QUEUE": f"cpu-two-{token}", "MODELS_DIR": str(tmp / "api-models")}
    app = create_app(own)
    blocker = tmp / "a-file"  # the stranger's: a MODELS_DIR that cannot be created
    blocker.write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if k not in ("SMOLLM2_MODEL_PATH", "MODELS_DIR")}
    env.update(REDIS_URL=redis_url, DATA_DIR=own["DATA_DIR"], AUTH_USERS=settings["AUTH_USERS"],
               ADMIN_USERS=settings["ADMIN_USERS"], HEARTBEAT_SECONDS="0.5", GPU_QUEUE=own["GPU_QUEUE"],
               CPU_QUEUE=own["CPU_QUEUE"], TORCH_NUM_THREADS="1", NUMBA_WARMUP="0")
    holder_env = {**env, "SMOLLM2_MODEL_PATH": str(smollm2_folder), "MODELS_DIR": str(tmp / "models-a")}
    names = {"holder": f"gpu-{token}@a", "empty": f"gpu-2-{token}@b"}
    workers = []
    try:
        with serving(app) as base:
            empty_env = {**env, "MODELS_DIR": str(blocker / "models")}
            # both started before either is waited for: their ~3 s starts (more under load) overlap
            holder, holder_out = started(holder_env, names["holder"], tmp / "gpu-a.log")
            workers.append(holder)
            empty, empty_out = started(empty_env, names["empty"], tmp / "gpu-b.log")
            workers.append(empty)
            ready(names["holder"], holder_out)
            ready(names["empty"], empty_out)
            yield {"base": base, "app": app, "names": names, "env": holder_env, "empty_env": empty_env,
                   "workers": workers, "tmp": tmp}
    finally:
        stop_together(workers)


@pytest.fixture(scope="module")
def admin(two_gpu_workers) -> Client:
    return Client(two_gpu_workers["base"], (ADMIN, ADMIN_PASSWORD))


def own_workers(admin: Client) -> list[dict]:
    """The status' `gpu_workers`: this service's GPU queue's workers only (the test session's own GPU worker, on the
    same Redis, is not among them; the status' `current_model` is read from the same workers)."""
    return admin.get("/api/v2/models/status").json()["gpu_workers"]


def test_every_generate_job_runs_on_the_worker_with_the_weights(two_gpu_workers, admin):
    names = two_gpu_workers["names"]
    # queued at once, both workers idle: before, the idle gpu-2@ took its share and failed each
    made = [admin.post("/api/v2/models/generate", json={**GENERATE, "wait": 0,
                                                         **({"model_type": "smollm2-135m"} if i % 2 else {})})
            for i in range(8)]
    assert all(r.status_code == 202 for r in made), [r.text for r in made]
    jobs = [admin.wait_job(r.json()["job_id"], timeout=300) for r in made]
    assert [j["state"] for j in jobs] == ["succeeded"] * 8, [j.get("error") for j in jobs]
    assert {j["worker"] for j in jobs} == {names["holder"]}, jobs
    assert all(j["attempts"] == 1 for j in jobs), jobs
    # the status says which worker can load which model (and, to an admin, names them)
    status = admin.get("/api/v2/models/status").json()
    seen = {w["worker"]: w["models_usable"] for w in status["gpu_workers"]}
    assert "smollm2-135m" in seen[names["holder"]] and "smollm2-135m" not in seen[names["empty"]], status


def test_load_and_unload_reach_the_worker_holding_the_model(two_gpu_workers, admin):
    names = two_gpu_workers["names"]
    for _ in range(3):
        loaded = admin.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300})
        assert loaded.status_code == 200 and loaded.json().get("worker") == names["holder"], loaded.text
        # generate without model_type: the resident model's worker
        said = admin.post("/api/v2/models/generate", json={**GENERATE, "wait": 300})
        assert said.status_code == 200 and said.json().get("worker") == names["holder"], said.text
        assert "model_load_seconds" not in said.json(), said.json()  # it found the model resident
        gone = admin.post("/api/v2/models/unload", json={"wait": 300})
        assert gone.status_code == 200, gone.text
        assert (gone.json()["unloaded"], gone.json().get("worker")) == ("smollm2-135m", names["holder"]), gone.json()
        # (this service's workers: the test session's other GPU worker, on the same Redis, may hold a model)
        assert not any(w["current_model"] for w in own_workers(admin)), own_workers(admin)
    admin.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300})
    held = {w["worker"]: w["current_model"] for w in admin.get("/api/v2/models/status").json()["gpu_workers"]}
    assert held == {names["holder"]: "smollm2-135m", names["empty"]: None}, held
    assert admin.post("/api/v2/models/unload", json={"wait": 300}).json()["unloaded"] == "smollm2-135m"
    # with nothing resident anywhere, an unload answers as before: nothing was unloaded
    again = admin.post("/api/v2/models/unload", json={"wait": 300})
    assert again.status_code == 200 and again.json()["unloaded"] is None, again.text
    # an ordinary user reads which models each worker has, not the workers' names
    user = Client(two_gpu_workers["base"])
    assert {w["worker"] for w in user.get("/api/v2/models/status").json()["gpu_workers"]} == {None}


def test_the_cli_models_status_shows_each_gpu_worker(two_gpu_workers, admin, tmp_path):
    """`ma models status` printed one "current model" line whatever the number of GPU workers: an operator could not
    tell which worker held the model or which could load it. Now a line per worker (named to an admin)."""
    from tests.test_cli import cli_env, ma

    names = two_gpu_workers["names"]
    assert admin.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300}).status_code == 200
    try:
        env = {**cli_env(two_gpu_workers["base"], tmp_path), "MA_USER": ADMIN, "MA_PASSWORD": ADMIN_PASSWORD}
        shown = ma(env, "models", "status")
        assert shown.returncode == 0, shown.stderr
        lines = [line.strip() for line in shown.stdout.splitlines()]
        assert f"GPU worker {names['holder']}: resident smollm2-135m · can load smollm2-135m" in lines, shown.stdout
        assert f"GPU worker {names['empty']}: resident none · can load none" in lines, shown.stdout
        # an ordinary user: the same lines without the workers' names
        user = ma(cli_env(two_gpu_workers["base"], tmp_path / "user"), "models", "status").stdout
        seen = dict(line.strip().split(": ", 1) for line in user.splitlines() if line.strip().startswith("GPU worker"))
        assert sorted(seen) == ["GPU worker 1", "GPU worker 2"], user  # numbered, in the server's order
        assert sorted(seen.values()) == ["resident none · can load none",
                                         "resident smollm2-135m · can load smollm2-135m"], user
        assert names["holder"] not in user, user
    finally:
        assert admin.post("/api/v2/models/unload", json={"wait": 300}).status_code == 200


def test_every_compare_job_runs_on_the_worker_with_the_weights(two_gpu_workers, admin, tmp_path):
    """compare (and lyrics) run an LLM too, named by `model_variant`, but went to the shared queue: the idle gpu-2@,
    without SmolLM2's weights, took its share and failed them."""
    from tests.audio_synth import write
    from tests.test_api_pitch import cadence
    from tests.test_api_sessions import upload

    names = two_gpu_workers["names"]
    session_id = admin.post("/sessions").json()["session_id"]
    for name, tonic in (("c.wav", 261.63), ("g.wav", 392.0)):
        assert upload(admin, session_id, write(tmp_path / name, cadence(tonic, bars=1))).status_code == 201
    made = [admin.post(f"/process/compare/{session_id}", json={
        "files": ["c.wav", "g.wav"], "model_variant": "smollm2-135m", "temperature": 0, "max_new_tokens": 32})
        for _ in range(6)]  # queued at once, both workers idle
    assert all(r.status_code == 202 for r in made), [r.text for r in made]
    jobs = [admin.wait_job(r.json()["job_id"], timeout=300) for r in made]
    assert [j["state"] for j in jobs] == ["succeeded"] * 6, [j.get("error") for j in jobs]
    assert {j["worker"] for j in jobs} == {names["holder"]}, jobs
    assert admin.post("/api/v2/models/unload", json={"wait": 300}).status_code == 200


def test_jobs_queued_while_one_gpu_worker_was_alive_are_sent_on_by_the_one_without_the_weights(two_gpu_workers,
                                                                                                admin):
    """gpu-2@ stopped, the API saw only gpu@ and queued the jobs on the shared queue; gpu-2@, started again while gpu@
    is busy, takes them from it and sends each on to gpu@'s own queue instead of failing it."""
    names, svc = two_gpu_workers["names"], two_gpu_workers["app"].extensions["music_analyzer"]
    stop_all([two_gpu_workers["workers"][1]])  # a stop takes its heartbeat off at once
    long = admin.post("/api/v2/models/generate", json={**COUNTING, "wait": 0}).json()["job_id"]
    running = svc.jobs.wait_until(long, lambda j: j["state"] == "running", timeout=300)
    assert running is not None and node_of(running["worker"]) == names["holder"], running
    queued = [admin.post("/api/v2/models/generate", json={**GENERATE, "wait": 0}).json()["job_id"] for _ in range(3)]
    worker, out = gpu_worker(two_gpu_workers["empty_env"], names["empty"], two_gpu_workers["tmp"] / "gpu-b2.log")
    two_gpu_workers["workers"][1] = worker
    assert out.wait_count(f"sent on to {names['holder']}", 3, timeout=120), "".join(out.lines)
    assert svc.jobs.get(long)["state"] == "running"  # (else gpu@ had taken them itself: nothing shown)
    assert admin.delete(f"/jobs/{long}").status_code in (200, 202)
    done = [admin.wait_job(job_id, timeout=300) for job_id in queued]
    assert [(j["state"], j["worker"], j["attempts"]) for j in done] == [("succeeded", names["holder"], 1)] * 3, done


def test_a_holder_killed_mid_job_loses_no_job_and_runs_none_twice(two_gpu_workers, admin):
    """`gpu@` is killed outright while it generates, a second job waiting in its own queue: both run once, on the
    worker started with the weights after it (another node name), never on gpu-2@ (the long one canceled there)."""
    names, app = two_gpu_workers["names"], two_gpu_workers["app"]
    svc = app.extensions["music_analyzer"]
    long = admin.post("/api/v2/models/generate", json={**COUNTING, "wait": 0}).json()["job_id"]
    running = svc.jobs.wait_until(long, lambda j: j["state"] == "running" and (j.get("generation") or {}).get(
        "tokens_generated", 0) >= 20, timeout=300)
    assert running is not None and node_of(running["worker"]) == names["holder"], running
    # the resident model's worker, busy: the job waits for it in that worker's own queue
    waiting = admin.post("/api/v2/models/generate", json={**GENERATE, "wait": 0}).json()["job_id"]
    holder = two_gpu_workers["workers"][0]
    holder.kill()
    holder.wait(timeout=30)
    later = two_gpu_workers["later"] = f"gpu-3-{uuid.uuid4().hex[:6]}@c"
    two_gpu_workers["workers"].append(gpu_worker(two_gpu_workers["env"], later,
                                                 two_gpu_workers["tmp"] / "gpu-c.log")[0])
    # the long one again, from its start, on the new worker: canceled once it runs there, the waiting one after it
    again = svc.jobs.wait_until(long, lambda j: j["attempts"] == 2 and j["state"] == "running", timeout=300)
    assert again is not None and node_of(again["worker"]) == later, again
    assert admin.delete(f"/jobs/{long}").status_code in (200, 202)
    done = {job_id: admin.wait_job(job_id, timeout=300) for job_id in (long, waiting)}
    assert [done[long]["state"], done[waiting]["state"]] == ["canceled", "succeeded"], [
        (j["state"], j["attempts"], j.get("worker"), j.get("error")) for j in done.values()]
    assert (done[long]["attempts"], done[waiting]["attempts"]) == (2, 1), done
    assert {j["worker"] for j in done.values()} == {later}, done


def test_an_unload_reaches_each_worker_holding_a_model(two_gpu_workers, admin):
    """Two workers holding a model each (SmolLM2 on the one started after the kill, a tiny Phi-4-reasoning on one
    whose MODELS_DIR alone has it): a load goes to the one that has the weights, and one unload empties both."""
    names = two_gpu_workers["names"]
    if "later" not in two_gpu_workers:
        pytest.skip("runs after the kill test of this module, whose replacement worker it loads SmolLM2 on")
    smol = two_gpu_workers["later"]  # the worker started in place of the killed one
    phi = f"gpu-4-{uuid.uuid4().hex[:6]}@d"
    two_gpu_workers["workers"].append(gpu_worker(
        {**two_gpu_workers["env"], "MODELS_DIR": str(two_gpu_workers["tmp"] / "api-models")}, phi,
        two_gpu_workers["tmp"] / "gpu-d.log")[0])
    loaded = admin.post("/api/v2/models/load", json={"model_type": "smollm2-135m", "wait": 300})
    assert loaded.status_code == 200 and loaded.json().get("worker") == smol, loaded.text
    loaded = admin.post("/api/v2/models/load", json={"model_type": "phi-4-reasoning", "wait": 300})
    assert loaded.status_code == 200 and loaded.json().get("worker") == phi, loaded.text
    held = {w["worker"]: w["current_model"] for w in admin.get("/api/v2/models/status").json()["gpu_workers"]}
    assert held == {smol: "smollm2-135m", phi: "phi-4-reasoning", names["empty"]: None}, held
    gone = admin.post("/api/v2/models/unload", json={"wait": 300})
    assert gone.status_code == 200, gone.text
    assert not any(w["current_model"] for w in own_workers(admin)), own_workers(admin)  # neither
    unloads = {u["worker"]: (u["state"], u["unloaded"]) for u in gone.json()["unloads"]}
    assert unloads == {smol: ("succeeded", "smollm2-135m"), phi: ("succeeded", "phi-4-reasoning")}, gone.json()
    assert gone.json()["unloaded"] in ("smollm2-135m", "phi-4-reasoning")
