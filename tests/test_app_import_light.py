"""Every API, worker and run.py start imports the app: faster-whisper (with CTranslate2 and PyAV) and huggingface_hub
are imported only when a model is looked up or loaded. With the app they had cost ~25 % of each start's CPU (2.2 ->
1.7 s user for `import app` on a 2-core machine), paid by each of the many workers the test suite starts. Finding and
loading the models still works: tests/test_transcription_whisper.py, tests/test_api_audio_models.py."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("faster_whisper", "ctranslate2", "av", "huggingface_hub")


def test_importing_the_app_and_its_tasks_leaves_the_model_libraries_unimported():
    code = ("import json, sys; import app, tasks, worker.transcription.pipeline, worker.musicgen.options; "
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [], out.stdout



def test_the_webhook_client_and_postgres_driver_are_imported_when_used_not_with_the_app():
    """requests (with urllib3, charset_normalizer) and psycopg had cost each start ~0.2 s of CPU of ~1 s: requests is
    imported by a webhook's delivery or URL check (tests/test_webhook_hosts.py), psycopg by an app whose library is
    PostgreSQL (DATABASE_URL: tests/test_api_library.py checks its 503 for a database that went away)."""
    light = ("requests", "urllib3", "psycopg")
    code = ("import json, sys; import app, tasks; "
            "app.create_app({'TESTING': True, 'AUTH_DISABLED': True, 'REDIS_URL': 'redis://127.0.0.1:1/0', "
            f"'DATA_DIR': sys.argv[1]}}); print(json.dumps([m for m in {list(light)!r} if m in sys.modules]))")
    with tempfile.TemporaryDirectory() as data:
        out = subprocess.run([sys.executable, "-c", code, data], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [], out.stdout
