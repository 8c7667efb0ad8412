"""The audio-LLM job's result for one file (the user's contract, worker/audio_llm/processor.py `postprocess`), and
what a stopped analysis keeps: the passes it had finished and the text of the pass it was writing, as a canceled
`POST /api/v2/models/generate` keeps what it wrote. Stopped is canceled, or past the job's time limit
(LONGEST_JOB_SECONDS, seen at the same progress reports: the job fails `time_limit_exceeded` and keeps its text).

A stop is seen inside a pass (worker/llm/generate.py: after the first token and every 8 after it), which hands
back the text so far (`JobStopped.generated`), or between passes. `took_running_pass` puts the running pass's text
where a finished pass's would go (a chunk's note, or the answer of the final pass), marked with the stop
(`finish_reason` canceled or time_limit); the processor hands the passes so far to the job (`JobStopped.partial`),
and `keep_stopped` writes them as `partial_analysis_<model>_<task>_<stem>.json|.txt` (atomically, the JSON last, as
a finished analysis is written), the stopped job's `result` (`finish_reason` the stop's, `partial` true). A partial
analysis never replaces a finished one of the same file (its own names: the session's listing says `partial`, the
library reads only finished ones), and the next finished run of it removes it. Stopped before any pass wrote a
token, it keeps nothing, as a generation does; nor does a job its worker's watchdog killed (jobs/overdue.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worker.errors import JobStopped
from worker.files import write_json_atomic, write_text_atomic

from .files import STOP_NOTES, partial_names
from .options import clip_seconds
from .passes import Generated, LLMCall, Prepared, answer_warnings
from .prompts import render_text
from .speech import content, measured_share, speech_origin


def analysis_result(registry: Mapping[str, Any], prepared: Prepared, generated: Generated, *,
                    started: float) -> dict:
    """The result dict (JSON-serialisable; no files named yet)."""
    options, passes = prepared.options, generated.passes
    tokens = sum(p["tokens_generated"] for p in passes)
    gen_seconds = sum(p["seconds"] for p in passes)
    entry = registry[options.model_variant]
    return {
        "model": options.model_variant,
        "model_name": entry.get("name", options.model_variant),
        "task": options.task,
        "filename": prepared.filename,
        "duration_seconds": round(prepared.duration_seconds, 3),
        "sample_rate": prepared.sample_rate,
        "channels": prepared.channels,
        "audio_features": prepared.features,
        "analysis_summary": generated.summary,
        "output_text_file": None,
        "output_json_file": None,
        "audio_input": prepared.audio_input,
        "model_sample_rate": prepared.model_sample_rate,
        "chunks": len(prepared.spans) if prepared.audio_input else 1,
        "chunk_seconds_max": clip_seconds(options.model_variant, registry) if prepared.audio_input else None,
        "chunk_notes": generated.notes,
        "sections": [{"start_seconds": round(s.start_seconds, 3), "end_seconds": round(s.end_seconds, 3),
                      "features": f} for s, f in zip(prepared.spans, prepared.span_features, strict=True)],
        "transcript_source": prepared.transcript_source,
        "generate_calls": len(passes),
        "merge_passes": generated.merge_passes,
        "passes": passes,
        "tokens_generated": tokens,
        "prompt_tokens": sum(p["prompt_tokens"] for p in passes),
        "generation_seconds": round(gen_seconds, 3),
        "tokens_per_second": round(tokens / gen_seconds, 2) if gen_seconds > 0 else None,
        "feature_seconds": round(prepared.seconds, 3),
        "model_load_seconds": generated.model_load_seconds,
        "processing_seconds": round(time.perf_counter() - started, 3),
        "finish_reason": generated.finish_reason,
        "warnings": answer_warnings(prepared, generated),
        # what the recording was measured as, and by whom (the session's pitch result, or this job where none said)
        "content": content(prepared.speech), "speech_share": measured_share(prepared.speech),
        **speech_origin(prepared.speech),
        "grounded_on": prepared.grounded_on,
        "options": options.to_dict(),
        "prompt_text": generated.final_prompt,
        "files": [],
    }


def took_running_pass(out: Generated, call: LLMCall, written: dict | None, prepared: Prepared, *,
                      final: bool, stopped_as: str = "canceled") -> None:
    """The pass `call` was stopped (`stopped_as`: canceled, time_limit) having written `written` (generate's answer,
    `finish_reason` the stop's; the whole answer when the stop came as its last token did; None: nothing yet): kept
    in `out` where it would have gone, a chunk's note (marked `canceled` or `time_limit`) or, `final`, the answer."""
    if not written:
        return
    out.passes.append({"kind": call.kind, "index": call.span.index if call.span else None,
                       "audio_input": written.get("audio_input"), "prompt_tokens": written.get("prompt_tokens", 0),
                       "tokens_generated": written.get("tokens_generated", 0), "seconds": written.get("seconds", 0.0),
                       "finish_reason": stopped_as})
    if call.kind == "chunk" and call.span is not None:
        span = call.span
        out.notes.append({"index": span.index, "start_seconds": round(span.start_seconds, 3),
                          "end_seconds": round(span.end_seconds, 3), "text": written.get("response", ""),
                          "tokens_generated": written.get("tokens_generated", 0),
                          "features": prepared.span_features[span.index], stopped_as: True})
    elif final:
        out.summary, out.final_prompt = written.get("response", ""), call.user_text


# what the result's first warning says of each stop (the .txt's first line: files.py STOP_NOTES, as lyrics')
STOPS = {"canceled": "the analysis was canceled",
         "time_limit": "the analysis was stopped by the server's time limit (LONGEST_JOB_SECONDS)"}


def keep_stopped(e: JobStopped, prepared: Prepared, registry: Mapping[str, Any], *, started: float,
                 results_dir: Path, stem: str, extra: Mapping[str, Any]) -> None:
    """What the stopped analysis (canceled, or past its time limit) had written (`e.partial`, the processor's
    Generated so far), written beside the session's results and set as the job's result (`e.finished`); nothing
    when no pass had written a token."""
    generated = e.partial
    if not isinstance(generated, Generated) or not any(p.get("tokens_generated") for p in generated.passes):
        return
    reason = e.stopped_as
    what = STOPS.get(reason, STOPS["canceled"])
    mark, before = STOP_NOTES.get(reason, STOP_NOTES["canceled"])
    generated.finish_reason = reason
    result = {**analysis_result(registry, prepared, generated, started=started), **extra}
    total = len(prepared.calls) + (1 if len(prepared.calls) > 1 else 0)
    finished = sum(1 for p in generated.passes if p["finish_reason"] != reason)
    result["partial"] = True
    said = (f"{what}: it holds the {finished} of its {total} generation pass(es) it had finished "
            "and the text of the one it was writing, as far as it got")
    result["warnings"] = [said, *result["warnings"]]
    options = prepared.options
    json_name, txt_name = partial_names(options.model_variant, options.task, stem)
    result.update(output_json_file=json_name, output_text_file=txt_name, files=[json_name, txt_name])
    results_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(results_dir / txt_name, f"{mark}: a partial analysis (finish_reason {reason}): "
                                              f"the passes finished and the text written before {before}\n\n"
                                              + render_text(result))
    write_json_atomic(results_dir / json_name, result)  # last: its presence means both are complete
    e.finished = result
