"""HTTP layer: one blueprint per resource. Routes parse, validate, enqueue, answer."""

from __future__ import annotations

from flask import Flask

from api import audio_models, events, health, jobs, metrics, models, process, sessions


def register_blueprints(app: Flask) -> None:
    for module in (health, sessions, jobs, events, process, audio_models, models, metrics):
        app.register_blueprint(module.bp)
