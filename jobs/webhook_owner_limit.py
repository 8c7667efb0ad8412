"""How many of one owner's webhook deliveries a worker process sends at once (WEBHOOK_SENDS_PER_OWNER): a
stranger's three receivers that each took the 10-second timeout held the one sender thread there was, and another
user's webhook waited 7-11 s behind them. The sender threads: jobs/webhook_sender.py."""

from __future__ import annotations

import threading


class OwnerLimit:
    """Deliveries being sent, per owner, in this process: at most `per_owner` of one owner's at a time."""

    def __init__(self, per_owner: int = 1):
        self.per_owner = max(1, per_owner)
        self._busy: dict[str, int] = {}  # owner -> deliveries of theirs being sent by this process
        self._lock = threading.Lock()

    def take(self, owner: str) -> bool:
        with self._lock:
            if self._busy.get(owner, 0) >= self.per_owner:
                return False
            self._busy[owner] = self._busy.get(owner, 0) + 1
            return True

    def release(self, owner: str) -> None:
        with self._lock:
            self._busy[owner] -= 1
            if not self._busy[owner]:
                del self._busy[owner]
