"""BROKER_POLL_SECONDS: how long a worker's wait for its next message (a Redis BRPOP) lasts. A stop waits for the
one in flight: with kombu's 1 s each stop of an idle worker took ~1-1.5 s, with the suite's 0.2 (tests/conftest.py)
~0.35 s here, over the ~150 worker stops of the test suite."""

from __future__ import annotations

import pytest

from config import SettingsError, load_settings


def test_a_workers_broker_wait_is_the_setting(settings, redis_url, tmp_path):
    from app import create_app

    app = create_app({**settings, "DATA_DIR": str(tmp_path / "data"), "BROKER_POLL_SECONDS": 0.3})
    with app.extensions["celery"].connection_for_read() as conn:
        assert conn.default_channel.brpop_timeout == 0.3
    assert load_settings({}, dotenv=False)["BROKER_POLL_SECONDS"] == 1.0  # kombu's own default


@pytest.mark.parametrize("bad", ["0", "-1", "soon"])
def test_a_broker_wait_that_cannot_work_is_refused(bad):
    with pytest.raises(SettingsError, match="BROKER_POLL_SECONDS"):
        load_settings({"BROKER_POLL_SECONDS": bad}, dotenv=False)
