"""Audio pipelines: plain functions and classes with no Flask and no Celery in them."""
