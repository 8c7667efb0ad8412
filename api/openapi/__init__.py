"""The OpenAPI 3.1 description of the API, built from the app's routes and the options that validate requests.

`build.spec_for(app)` walks `app.url_map`: every route must have a declaration in `operations.py` (a route
without one makes the build fail, so no route goes undescribed); request bodies of job-creating routes are
the options classes' `json_schema(settings=app.config)` plus the route's own keys; response shapes and the
error codes are in `schemas.py` and `catalog.py`. api/docs.py serves it at /openapi.json and renders /docs.
"""
