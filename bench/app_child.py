"""The opening of a bench child process that measures the app's routes in-process: the app on a given Redis and
data directory, one user "u" with password "pw", a test client `c` and its `auth` header. A str.format template
(root, url, data); the script's own lines follow it."""

APP_CLIENT = """
import base64, json, resource, statistics, sys, time
sys.path.insert(0, {root!r})
from app import create_app
from werkzeug.security import generate_password_hash
app = create_app({{"REDIS_URL": {url!r}, "DATA_DIR": {data!r}, "AUTH_USERS": "u:" + generate_password_hash("pw"),
                  "TESTING": True}})
c = app.test_client()
auth = {{"Authorization": "Basic " + base64.b64encode(b"u:pw").decode()}}
"""
