"""Celery entry point: `celery -A make_celery worker ...` (see run.py for the queues and pools).

Settings that cannot work (a malformed value, no API users) stop the worker with one line saying which, and exit
status 78 (EX_CONFIG), which deploy/systemd's unit does not restart: under `Restart=always` a stranger's worker had
written a 77-line import traceback every few seconds, the cause on its last line.
"""

import sys

from config import EX_CONFIG, SettingsError, env_file

try:
    from app import create_app

    flask_app = create_app()
except SettingsError as e:
    print(f"music-analyzer worker not started: {e} (settings: the environment and {env_file().absolute()}); "
          f"fix it and start it again (exit status {EX_CONFIG}: its systemd unit does not restart it)",
          file=sys.stderr, flush=True)
    raise SystemExit(EX_CONFIG) from None
celery_app = flask_app.extensions["celery"]
