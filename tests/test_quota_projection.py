"""USER_STORAGE_MB counts what jobs will write, over real HTTP (api/quota.py, jobs/output_estimate.py).

A stranger's trial: bob at 195 MB of a 200 MB quota queued three REPET separations of a 96 kHz 48 s FLAC; the
check had counted only the bytes on disk, all three were taken and wrote 405.9 MB (203 %). Here the same in small:
a 96 kHz stereo FLAC, a quota with room for two separations and a half; the third is refused with 507 and the
projected use. First on queues no worker serves (every job stays queued: what counts is the reservation, and a
canceled job gives its share back), then with the real worker (the jobs run: what they wrote replaces their
estimates, which are released as they end).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from api.openapi.build import spec_for
from disk_space import MB
from jobs.output_estimate import estimate_output_bytes
from tests.audio_synth import sine, write
from tests.conftest import OTHER, OTHER_PASSWORD, Client, serving
from tests.contract import assert_answer
from tests.test_api_sessions import upload
from tests.test_cli import cli_env, ma
from tests.test_storage_quota import quota, storage  # noqa: F401 (quota: a fixture)

RATE, SECONDS = 96_000, 3.0
REPET = {"model": "repet"}


def hi_res_flac(folder: Path, name: str, freq: float) -> Path:
    """A stereo FLAC at 96 kHz (each file its own tone: no job is answered from another's cached results)."""
    return write(folder / name, sine(freq, SECONDS, sr=RATE, channels=2) * np.float32([1.0, 0.5]), sr=RATE)


def uploaded(c: Client, sid: str, path: Path) -> int:
    """Upload `path`; the estimate of a REPET job on it, from what the upload answered of the file."""
    r = upload(c, sid, path)
    assert r.status_code == 201, r.text
    described = r.json()["files"][0]
    assert described["sample_rate"] == RATE and described["channels"] == 2, described
    return estimate_output_bytes("demucs", REPET, [described])


def repet(c: Client, sid: str, name: str):
    return c.post(f"/process/demucs/{sid}", json={"file": name, **REPET})


def assert_projected_refusal(r, spec: dict) -> str:
    assert r.status_code == 507, r.text
    error = r.json()["error"]
    assert error["code"] == "storage_quota_exceeded", error
    assert "storage quota" in error["message"] and "projected use" in error["message"], error
    assert "/" not in error["message"], error  # no path of the server's
    assert_answer(spec, "POST", "/process/demucs/{session_id}", 507, r.json())
    return error["message"]


@pytest.fixture()
def queued_only(own_queues) -> Iterator[tuple]:
    """An app on queues no worker serves, on real HTTP; bob's client."""
    from app import create_app

    app = create_app(own_queues)
    with serving(app) as base:
        yield app, Client(base, (OTHER, OTHER_PASSWORD))


def test_queued_jobs_hold_what_they_will_write_and_a_canceled_one_gives_it_back(queued_only, tmp_path):
    app, bob = queued_only
    spec = spec_for(app)
    sid = f"proj-{uuid.uuid4().hex[:8]}"
    estimate = uploaded(bob, sid, hi_res_flac(tmp_path, "q1.flac", 330))
    assert estimate > 2 * RATE * SECONDS * 2 * 4  # two float stems of 3 s at 96 kHz, stereo: ~4.6 MB
    used = storage(bob)["used_bytes"]
    app.config["USER_STORAGE_MB"] = (used + 2.5 * estimate) / MB  # room for two separations and a half

    first, second = repet(bob, sid, "q1.flac"), repet(bob, sid, "q1.flac")
    assert first.status_code == 202 and second.status_code == 202, (first.text, second.text)
    held = storage(bob)
    assert held["used_bytes"] == used and held["reserved_bytes"] == 2 * estimate, held
    assert_answer(spec, "GET", "/sessions", 200, bob.get("/sessions").json())
    listed = ma({**cli_env(bob.base, tmp_path), "MA_USER": OTHER, "MA_PASSWORD": OTHER_PASSWORD}, "sessions")
    assert "queued and running jobs will write about 8.8 MB more" in listed.stdout + listed.stderr, listed.stderr
    message = assert_projected_refusal(repet(bob, sid, "q1.flac"), spec)
    assert "2 queued or running job(s)" in message and "% of the quota)" in message, message
    assert len(bob.get("/jobs", params={"session_id": sid}).json()["jobs"]) == 2  # nothing more was queued
    # an upload is counted with the jobs' estimates too: 2.7 MB would fit on the disk, not beside the two jobs
    wav = write(tmp_path / "more.wav", sine(330, 7.0, sr=RATE, channels=2), sr=RATE)
    assert used + wav.stat().st_size < app.config["USER_STORAGE_MB"] * MB < used + 2 * estimate + wav.stat().st_size
    refused = upload(bob, sid, wav)
    assert refused.status_code == 507 and "does not fit" in refused.json()["error"]["message"], refused.text

    # a canceled job's estimate no longer counts: there is room for one more
    assert bob.delete(f"/jobs/{first.json()['job_id']}").status_code in (200, 202)
    assert storage(bob)["reserved_bytes"] == estimate
    third = repet(bob, sid, "q1.flac")
    assert third.status_code == 202, third.text

    # requests at the same moment take turns: of four, the one that fits is taken
    assert bob.delete(f"/jobs/{third.json()['job_id']}").status_code in (200, 202)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: repet(bob, sid, "q1.flac"), range(4)))
    assert sorted(a.status_code for a in answers) == [202, 507, 507, 507], [a.text for a in answers]
    assert storage(bob)["reserved_bytes"] == 2 * estimate
    for job in bob.get("/jobs", params={"session_id": sid, "state": "queued"}).json()["jobs"]:
        bob.delete(f"/jobs/{job['job_id']}")
    assert storage(bob)["reserved_bytes"] == 0


def test_separations_that_would_overrun_the_quota_are_refused_before_they_run(app, quota, other_client,  # noqa: F811
                                                                               tmp_path):
    """The stranger's repro in small, with the real worker: what the jobs wrote is what was estimated, and a
    finished job's estimate is released (what it wrote is on disk instead)."""
    spec = spec_for(app)
    sid = f"proj-run-{uuid.uuid4().hex[:8]}"
    names = ("q1.flac", "q2.flac", "q3.flac")
    tones = zip(names, (330, 440, 550), strict=True)
    estimates = [uploaded(other_client, sid, hi_res_flac(tmp_path, n, f)) for n, f in tones]
    assert len(set(estimates)) == 1
    estimate = estimates[0]
    start = storage(other_client)
    quota(start["used_bytes"] + start["reserved_bytes"] + 2.5 * estimate)
    jobs = [repet(other_client, sid, n) for n in names[:2]]
    assert [j.status_code for j in jobs] == [202, 202], [j.text for j in jobs]
    # the third is refused whether the first two are still queued, running or done
    assert_projected_refusal(repet(other_client, sid, names[2]), spec)
    done = [other_client.wait_job(j.json()["job_id"], timeout=120) for j in jobs]
    assert [d["state"] for d in done] == ["succeeded", "succeeded"], done
    after = storage(other_client)
    assert after["reserved_bytes"] == start["reserved_bytes"]  # released as they ended
    written = after["used_bytes"] - start["used_bytes"]
    assert 0.95 <= 2 * estimate / written <= 1.05, (estimate, written)  # WAV stems: to within a header
    # delete the first job's stems: with its estimate released, the third fits
    for name in done[0]["result"]["files"]:
        assert other_client.delete(f"/sessions/{sid}/files/{name}", params={"area": "results"}).status_code == 200
    third = repet(other_client, sid, names[2])
    assert third.status_code == 202, third.text
    assert other_client.wait_job(third.json()["job_id"], timeout=120)["state"] == "succeeded"
    assert other_client.delete(f"/sessions/{sid}").status_code == 200


@pytest.mark.needs_chromium
def test_the_page_says_what_queued_jobs_will_write_against_the_quota(queued_only, browser, tmp_path):
    """The page's storage line had said what the sessions hold alone, while a 507 counted the queued jobs' estimates
    too: it says them as the command line does."""
    app, bob = queued_only
    sid = f"page-{uuid.uuid4().hex[:8]}"
    estimate = uploaded(bob, sid, hi_res_flac(tmp_path, "p1.flac", 440))
    app.config["USER_STORAGE_MB"] = (storage(bob)["used_bytes"] + 2.5 * estimate) / MB
    assert repet(bob, sid, "p1.flac").status_code == 202
    assert storage(bob)["reserved_bytes"] == estimate
    context = browser.new_context(http_credentials={"username": OTHER, "password": OTHER_PASSWORD})
    try:
        page = context.new_page()
        page.goto(bob.base + "/")
        line = page.locator("#storage-use", has_text="storage quota")
        line.wait_for()
        text = line.inner_text()
        assert f"queued and running jobs will write about {estimate / MB:.1f} MB more" in text, text
    finally:
        context.close()
