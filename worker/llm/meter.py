"""Where a text generation is, as its job's progress shows it: the prompt's layers read, then the tokens written of
the max_new_tokens budget, the measured rate and the time left.

A stranger's `--llm analyze` with SmolLM2 on a CPU ran 4.5 minutes with nothing but "generating 40%" to go by.
The meter is told of each layer read (PrefillCheckpoints) and each token (the progress criterion): a counter and a
clock read, nothing more. Its snapshot, made only when a progress report is written (worker/progress.py
current_detail), is the job's `generation` (jobs/record.py): the CLI and the page say it as "generating 120/512
tokens, 14 tok/s, up to 28 s left".

The time left is for the whole budget at the rate measured since the first token: the model may end its answer
sooner (its end-of-text token), which is why it is said "up to". The prompt is read in one forward pass before the
first token (an 8 k-token prompt: ~100 s on a CPU); its time left is estimated from the layers read so far. An
analysis of several passes (a chunk each, then the merge) says which pass this is (`pass`, `passes`): the time left
is this pass's.
"""

from __future__ import annotations

import time
from typing import Any

from worker.progress import current_pass

PHASE_PROMPT, PHASE_GENERATING = "prompt", "generating"


class GenerationMeter:
    def __init__(self, *, prompt_tokens: int, max_new_tokens: int, layers: int = 0) -> None:
        self.prompt_tokens, self.max_new_tokens, self.layers = prompt_tokens, max_new_tokens, layers
        self.started = time.perf_counter()
        self.layer_calls = 0  # layer checkpoints seen: each comes before its layer runs
        self.tokens = 0
        self.first_token_at: float | None = None
        self.token_at = self.started
        self.cpu_threads: int | None = None  # torch's threads now, when they follow the CPU pool (threads.py)

    def layer(self) -> None:
        self.layer_calls += 1

    def token(self, count: int) -> None:
        """`count` tokens are written (the criterion's call count: one per new token)."""
        self.token_at = time.perf_counter()
        if self.first_token_at is None:
            self.first_token_at = self.token_at
        self.tokens = count

    def tokens_per_second(self) -> float | None:
        """Tokens written after the first, over the time since it (the first token's own time is the prompt's)."""
        if self.first_token_at is None or self.tokens < 2 or self.token_at <= self.first_token_at:
            return None
        return (self.tokens - 1) / (self.token_at - self.first_token_at)

    def snapshot(self) -> dict[str, Any]:
        now = time.perf_counter()
        out: dict[str, Any] = {
            "phase": PHASE_GENERATING if self.tokens else PHASE_PROMPT, "prompt_tokens": self.prompt_tokens,
            "tokens_generated": self.tokens, "max_new_tokens": self.max_new_tokens,
            "seconds": round(now - self.started, 1), **current_pass()}
        if self.cpu_threads is not None:
            out["cpu_threads"] = self.cpu_threads
        if not self.tokens:
            done = max(self.layer_calls - 1, 0)  # layers finished: the checkpoint of the one running came first
            out["layers_read"], out["layers"] = min(done, self.layers), self.layers
            out["prompt_seconds_left"] = (round((now - self.started) / done * (self.layers - done), 1)
                                          if 0 < done < self.layers else None)
            out["tokens_per_second"] = out["seconds_left"] = None
            return out
        rate = self.tokens_per_second()
        out["tokens_per_second"] = round(rate, 1) if rate else None
        out["seconds_left"] = round((self.max_new_tokens - self.tokens) / rate, 1) if rate else None
        return out
