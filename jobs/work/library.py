"""The library's jobs: rebuild an owner's index from the session files (CPU queue), and answer a question
over it with the loaded LLM (GPU queue), citing the tracks, lines and times it drew on."""

from __future__ import annotations

from library.ask import answer_question
from library.options import AskOptions
from library.service import library_for
from worker.progress import Progress

from ..runner import JobContext
from ..runtime import model_manager


def library_reindex(ctx: JobContext, progress: Progress) -> dict:
    progress(0.05, "reindexing")
    return library_for(ctx.settings).reindex(owner=ctx.owner)


def library_ask(ctx: JobContext, progress: Progress) -> dict:
    return answer_question(library_for(ctx.settings), owner=ctx.owner, options=ctx.options_as(AskOptions),
                           manager=model_manager(), progress=progress, asker=ctx.asked_by)
