"""HTTP layer: one blueprint per resource (app.py registers them). Routes parse, validate, enqueue, answer."""
