"""The page shows where the key changes (the result's `key.changes`, the .txt's "modulates to" lines), as for music
that names no one key and moves between several (tests/test_key_moves.py): the Key fact read "no key" alone."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.browser_page import logged_in
from tests.music_signals import SR, cadences_in


@pytest.mark.needs_chromium
def test_the_page_lists_the_keys_music_moves_between(browser, server, client, session_id, audio_dir):
    from tests.test_api_sessions import upload

    y = np.concatenate([bar for tonic in (0, 4, 8) for bar in cadences_in(tonic)])
    path = audio_dir / "thirds.wav"
    sf.write(path, (0.5 * y / np.abs(y).max()).astype("float32"), SR)
    assert upload(client, session_id, path).status_code == 201
    job = client.wait_job(client.post(f"/process/pitch/{session_id}", json={"file": "thirds.wav"}).json()["job_id"])
    assert job["state"] == "succeeded", job
    changes = job["result"]["key"]["changes"]
    assert [c["label"] for c in changes] == ["C major", "E major", "G# major"], changes
    context, page, problems = logged_in(browser)
    try:
        page.goto(f"{server}/#session={session_id}&file=thirds.wav")
        fact = page.locator("#fact-key-changes .value")
        fact.wait_for()
        clock = [f"{int(c['time']) // 60}:{int(c['time']) % 60:02d}" for c in changes]
        assert fact.inner_text() == f"C major → E major at {clock[1]} → G# major at {clock[2]}"
        assert page.locator("#fact-key .value").inner_text() == "no key"
        assert problems == []
    finally:
        context.close()
