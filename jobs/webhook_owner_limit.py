"""How many of one owner's webhook deliveries a worker process sends at once (WEBHOOK_SENDS_PER_OWNER): a
stranger's three receivers that each took the 10-second timeout held the one sender thread there was, and another
user's webhook waited 7-11 s behind them. A delivery claimed while its owner's turns are all taken is put off, and
the end of a turn wakes the first of the owner's put off: it had waited out its timer (1 s), and two jobs of one user
that ended together had their second webhook arrive a second after the first. The sender threads:
jobs/webhook_sender.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class OwnerLimit:
    """Deliveries being sent, per owner, in this process: at most `per_owner` of one owner's at a time; and the
    deliveries this process put off for their owner's turn, woken one per turn that ends."""

    def __init__(self, per_owner: int = 1):
        self.per_owner = max(1, per_owner)
        self._busy: dict[str, int] = {}  # owner -> deliveries of theirs being sent by this process
        # owner -> {delivery: the due time its putting off set}, oldest first. Bounded: an entry whose due time has
        # passed is of no use (the delivery is due or claimed again already) and is dropped at every turn's end.
        self._put_off: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def take(self, owner: str, delivery: str, put_off: Callable[[], float]) -> bool:
        """A turn of `owner`'s for `delivery`; or, all of theirs being taken, `put_off()` (which makes it due later
        and returns that due time) is called and the delivery remembered, both under the lock: a turn ending in
        between would otherwise find nothing to wake, or wake it before it was put off (and the putting off undo
        the wake)."""
        with self._lock:
            if self._busy.get(owner, 0) >= self.per_owner:
                self._put_off.setdefault(owner, {})[delivery] = put_off()  # an entry already there keeps its place
                return False
            self._busy[owner] = self._busy.get(owner, 0) + 1
            waiting = self._put_off.get(owner)
            if waiting is not None:  # its own timer brought it here: nothing to wake any more
                waiting.pop(delivery, None)
                if not waiting:
                    del self._put_off[owner]
            return True

    def release(self, owner: str, wake: Callable[[str, float], bool]) -> None:
        """The end of a turn of `owner`'s: the first delivery of theirs put off that is still as it was put off
        is woken, `wake(delivery, due)` (False for one claimed or ended since: the next is tried)."""
        with self._lock:
            self._busy[owner] -= 1
            if not self._busy[owner]:
                del self._busy[owner]
            self._forget_past_due()
            waiting = self._put_off.get(owner)
            try:
                while waiting and self._busy.get(owner, 0) < self.per_owner:
                    delivery, due = next(iter(waiting.items()))
                    del waiting[delivery]
                    if wake(delivery, due):
                        break
            finally:
                if waiting is not None and not waiting:
                    del self._put_off[owner]

    def _forget_past_due(self) -> None:
        now = time.time()
        for owner in list(self._put_off):
            waiting = {d: due for d, due in self._put_off[owner].items() if due > now}
            if waiting:
                self._put_off[owner] = waiting
            else:
                del self._put_off[owner]
