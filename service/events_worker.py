"""gunicorn's gevent worker for the events server (`-k service.events_worker.EventsWorker`), with one repair.

gevent's monkey-patching removes `select.epoll` (a call that would block the whole event loop). trio, which
httpcore imports whenever it is installed (the app imports huggingface_hub -> httpx -> httpcore through the
job types' options), builds its epoll manager class at import time and fails without the attribute, so the
plain gevent worker cannot even load the app on such a machine. Nothing in this process runs a trio loop,
so handing the attribute back blocks nothing; every other patch stays.
"""

from __future__ import annotations

import select

from gevent import monkey
from gunicorn.workers.ggevent import GeventWorker

from service.api_worker import use_json_errors


class EventsWorker(GeventWorker):
    def init_process(self) -> None:
        use_json_errors()  # gunicorn's own error answers in the API's JSON envelope (service/api_worker.py)
        super().init_process()

    def patch(self) -> None:
        super().patch()  # monkey.patch_all(), then the listening sockets as gevent sockets
        if not hasattr(select, "epoll") and monkey.is_object_patched("select", "epoll"):
            setattr(select, "epoll", monkey.get_original("select", "epoll"))  # noqa: B010 (mypy: a class)
