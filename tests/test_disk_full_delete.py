"""Deleting on a full disk: valkey and the sessions share one, filled to the last byte (root only), so valkey refuses
writes (MISCONF). Deleting an upload or a session is how a user frees space: it is done, where it had been refused
with 507 "the job queue's disk is full: nothing was queued" (the deletion's mark in Redis was a write), and the
deleted session's job records go once the freed space lets valkey write again. A cancel refused meanwhile says
"nothing was changed", not "nothing was queued". Real valkey on a real tmpfs, as tests/test_disk_full_queue.py."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.audio_synth import sine, write
from tests.conftest import PASSWORD, USER, serving
from tests.small_disk import fill, valkey_on_a_small_disk
from tests.test_disk_full import assert_disk_full_answer, start_app
from tests.test_disk_full_queue import valkey_refuses_writes


@pytest.mark.slow
def test_uploads_and_sessions_are_deleted_on_a_full_disk_under_valkey(settings, tmp_path):
    from tests.conftest import wait_for

    token = uuid.uuid4().hex[:8]
    with valkey_on_a_small_disk(tmp_path) as (disk, url, _):
        data = disk / "sessions"  # the sessions share valkey's disk: deleting them gives valkey room again
        app = start_app(settings, data, REDIS_URL=url, CPU_QUEUE=f"cpu-{token}", GPU_QUEUE=f"gpu-{token}",
                        MIN_FREE_DISK_MB=1)
        svc = app.extensions["music_analyzer"]
        with serving(app) as base:
            s = requests.Session()
            s.auth = (USER, PASSWORD)
            wav = write(tmp_path / "t.wav", sine(330, 0.5)).read_bytes()
            sids = {}
            for what in ("queued", "upload", "big"):
                sids[what] = s.post(f"{base}/sessions").json()["session_id"]
                assert s.post(f"{base}/sessions/{sids[what]}/files",
                              files={"file": ("t.wav", wav)}).status_code == 201
            queued = s.post(f"{base}/process/features/{sids['queued']}", json={"file": "t.wav"}).json()["job_id"]
            ended = svc.jobs.create(owner=USER, job_type="features", session_id=sids["big"], queue=f"cpu-{token}",
                                    task="music_analyzer.features",
                                    params={"files": ["t.wav"], "batch": False, "options": {}})["job_id"]
            assert svc.jobs.fail(ended, {"code": "x", "message": "ended"}, status=500)
            big = svc.sessions.of(USER).uploads_dir(sids["big"])
            fill(disk).rename(big / "filler.bin")  # the disk's last byte, held by the session "big"
            wait_for(lambda: valkey_refuses_writes(url, token), timeout=20,
                     message="valkey to refuse writes on the full disk")

            cancel = s.delete(f"{base}/jobs/{queued}")
            assert_disk_full_answer(cancel, data=disk)
            assert "nothing was changed" in cancel.json()["error"]["message"], cancel.text

            gone = s.delete(f"{base}/sessions/{sids['upload']}/files/t.wav")
            assert gone.status_code == 200 and gone.json()["deleted"] is True, gone.text
            assert s.get(f"{base}/sessions/{sids['upload']}/files/t.wav").status_code == 404

            deleted = s.delete(f"{base}/sessions/{sids['big']}")
            assert deleted.status_code == 200 and deleted.json()["deleted"] is True, deleted.text
            assert not big.exists()
            assert s.get(f"{base}/sessions/{sids['big']}").status_code == 404
            # its job's record went too, once the space freed let valkey write again
            assert s.get(f"{base}/jobs/{ended}").status_code == 404
            assert not valkey_refuses_writes(url, token)
            assert s.get(f"{base}/jobs/{queued}").json()["state"] == "queued"
