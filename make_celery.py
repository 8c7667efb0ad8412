"""Celery entry point: `celery -A make_celery worker ...` (see run.py for the queues and pools)."""

from app import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
