"""HTTP layer: one blueprint per resource. Routes parse, validate, enqueue, answer."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from api import health, jobs, process, sessions

    for module in (health, sessions, jobs, process):
        app.register_blueprint(module.bp)
    try:
        from api import models
    except ImportError:  # the model routes arrive with the model layer
        return
    app.register_blueprint(models.bp)
