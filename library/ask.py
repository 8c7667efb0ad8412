"""POST /library/ask: retrieve candidates (hybrid search), let the LLM decide which answer the question.

A question naming a measured key, tempo or metre takes its candidates from the tracks measured so
(question_facts.py); every candidate is shown with its measurements.

The model sees the candidates as numbered excerpts (track, time, the matching line or passage) and is asked
to cite them as [n]. Citations are the excerpts it cited; a small model that cites none gets those of the tracks
its answer names by file cited for it, else the top-ranked candidate, and the result says so (`cited_by:
"retrieval"`), never an invented one.
"""

from __future__ import annotations

import re
from typing import Any

from worker.errors import JobStopped
from worker.llm.claims import listed_items, misattributed_quotes, unknown_names, unsupported_claims
from worker.llm.options import GenerateOptions
from worker.llm.repetition import loop_warning
from worker.progress import Progress, scaled

from .language import looks_english
from .options import AskOptions
from .question_facts import SUPERLATIVES, QuestionFacts, question_facts
from .service import Library
from .store import TrackFilter

CITATION_RE = re.compile(r"\[(\d{1,2})\]")
CLOCK_RE = re.compile(r"(?<![\d:.])(\d{1,3}:[0-5]\d)(?!\d|:\d)")  # a time in a track, as the prompt writes it: 1:05
EXCERPT_CHARS = 300
# The cosine a passage needs to be given to the model (/library/search lists down to SEMANTIC_MIN, 0.2), scored by
# the question's best clause (library/clauses.py): weak 0.2-0.3 matches had reached it and SmolLM2 quoted an
# unrelated transcript, while a floor on the whole question's cosine (d566567, reverted) had dropped "Which song
# mentions a silver mountain train? Then write the numbers from 1 to 300, ..." from its own lyric line.
# bench/ask_floor.py (12 subjects spoken by espeak-ng through tiny.en, 24 questions about them and 4 about none,
# plain and with an instruction after them; relevant pairs kept of 24 / unrelated let through of 312): plain 20/13
# at 0.3 (0.25: 21/26, 0.2: 22/51); with an instruction, best clause 21/10 (0.25: 21/22), whole question 19/13.
# Nothing at it: "nothing matches", told by the request.
ASK_SEMANTIC_MIN = 0.3
MAX_MEASURED_TRACKS = 200  # tracks a measured fact selects, searched for their excerpts
ANSWERED_STAGE = "done (answered from the measurements)"  # a job's stage when its request answered it
NOTHING_STAGE = "done (nothing in the library matches)"  # ... and when its request found nothing to ask about
# the search reads words; what was measured is read from the question only as question_facts.py can (a stranger's
# "what is the slowest track?" had got the first sentence alone, as if the library were empty)
NOTHING_FOUND_AS = ("Nothing in {library} matches the question. Questions are answered from the transcripts, "
                    "lyrics and analyses, and from what was measured when they name it: a key (\"which tracks are in "
                    "D major?\"), a tempo (\"songs at 120 BPM\", \"slow songs\", \"something fast\"), a metre "
                    "(\"in 3/4\") or the fastest, slowest, longest, shortest, loudest or quietest track.")
# after NOTHING_FOUND_AS where the question does not look like English (library/language.py): the embedder reads
# English only, and a stranger's question in another language had been told nothing matched, not why. Worded to
# hold for an English question the rule misjudges too.
NOT_ENGLISH_NOTE = ("Questions are matched in English only (the library's search reads English), and this one does "
                    "not look like English: if it is in another language, ask it in English.")
YOURS = "your library"  # what the fixed sentences call the library asked about, when it is the asker's own
NOTHING_FOUND = NOTHING_FOUND_AS.format(library=YOURS)
RANKED_SHOWN = 5  # tracks an answer to "the slowest track" names: the first, then the next ones
RANKED_WHAT = {"tempo_bpm": "tempo", "duration_seconds": "length", "loudness_lufs": "loudness"}
MAX_LISTED_TRACKS = 20  # named in an answer the measurements give (and its citations); the count says the rest
SYSTEM = ("You answer questions about the user's music library using only the numbered excerpts given. "
          "Cite the excerpts you use by their number in square brackets, like [1].")


def whose_library(*, owner: str, asker: str | None) -> str:
    """How an answer names the library it is about: "your library" when it is the asker's own (or the asker is not
    known: a job queued by an older version), else "the library of <owner>" (an admin asking about a user's library
    with ?owner= had been answered "your library ...", as if about the admin's own)."""
    return YOURS if asker is None or asker == owner else f"the library of {owner}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def answer_question(library: Library, *, owner: str, options: AskOptions, manager: Any,
                    progress: Progress, asker: str | None = None) -> dict[str, Any]:
    """`asker`: who asked, when not `owner` (whose library it is) the answer names the owner's library."""
    progress(0.05, "retrieving")
    facts = question_facts(options.question)
    whose = whose_library(owner=owner, asker=asker)
    answered = measured_answer(library, owner=owner, question=options.question, facts=facts, whose=whose)
    if answered is not None:  # (the route answers these itself: this is a job queued before it did, or replayed)
        return answered
    if facts:
        hits = measured_hits(library, owner=owner, question=options.question, facts=facts, limit=options.candidates)
        if facts.ranked is not None:  # "which slowest song mentions rain?": the model is told the order
            hits = ranked_hits(hits, facts.ranked)
    else:
        hits = ask_search(library, owner=owner, question=options.question, limit=options.candidates)
    candidates = [excerpt(i, h) for i, h in enumerate(hits, start=1)]
    measured_filter = facts.as_dict() if facts else None
    if not candidates:
        answer = _listed_answer(facts, [], whose) if facts else nothing_found(options.question, whose)
        return {"question": options.question, "answer": answer, "model": None, "citations": [], "candidates": [],
                "cited_by": None, "warnings": [], "measured_filter": measured_filter}
    progress(0.2, "asking the model")
    prompt = ask_prompt(options.question, facts, candidates=candidates, hits=hits)
    try:
        system = SYSTEM if whose == YOURS else SYSTEM.replace("the user's music library", whose)
        generated = manager.generate(GenerateOptions(prompt=prompt, system=system, max_length=options.max_new_tokens,
                                                     temperature=0.0, model_type=options.model_type),
                                     progress=scaled(progress, 0.2, 0.95),  # its checkpoints: a cancel stops it
                                     task="ask")  # `auto`: the ask order (reasoning over the retrieved lines)
    except JobStopped as e:  # the answer written so far is the stopped job's result (canceled, or failed at its
        # time limit), as a generation's is (a stranger's Stop at 26 % had shown nothing of it; one past
        # LONGEST_JOB_SECONDS had dropped it while a generation, analysis, lyrics or comparison kept theirs)
        if e.generated:
            e.finished = {**_answered(options, e.generated, prompt=prompt, candidates=candidates,
                                      measured_filter=measured_filter), "partial": True}
        raise
    progress(1.0, "done")
    return _answered(options, generated, prompt=prompt, candidates=candidates, measured_filter=measured_filter)


def _answered(options: AskOptions, generated: dict[str, Any], *, prompt: str, candidates: list[dict[str, Any]],
              measured_filter: dict[str, Any] | None) -> dict[str, Any]:
    """The result of the model's answer (whole, or as far as it was written when canceled or stopped by the time
    limit): its citations and what in it the excerpts do not support."""
    response = str(generated.get("response") or "").strip()
    numbers = {int(n) for n in CITATION_RE.findall(response)}
    cited = sorted(n for n in numbers if 1 <= n <= len(candidates))
    cited_by = "model" if cited else "retrieval"
    citations = [candidates[n - 1] for n in cited] if cited else named_candidates(response, candidates)
    return {"question": options.question, "answer": response, "model": generated.get("model"),
            "finish_reason": generated.get("finish_reason"), "generation_seconds": generated.get("seconds"),
            "citations": citations, "cited_by": cited_by, "candidates": candidates,
            "warnings": _cut(generated) + answer_warnings(response, prompt=prompt, candidates=candidates,
                                                          numbers=numbers),
            "measured_filter": measured_filter,
            **({"model_choice": generated["model_choice"]} if generated.get("model_choice") else {})}


# the first warning of an answer stopped before its end, by its `finish_reason`: cut at max_new_tokens, or stopped by
# the time limit (its job failed, the text so far kept: said in the result itself, as a stopped analysis says it;
# a canceled one's asker stopped it)
STOPPED_WARNINGS = {
    "length": "the answer was cut at max_new_tokens (finish_reason: length); ask with more max_new_tokens",
    "time_limit": "the answer was stopped by the server's time limit (LONGEST_JOB_SECONDS) before its end "
                  "(finish_reason: time_limit): it holds the text written so far"}


def _cut(generated: dict[str, Any]) -> list[str]:
    """An answer stopped by max_new_tokens is said to be cut, as a comparison's or an analysis' is (a stranger's
    answer ended mid-quote with no warning, the CLI printing it as whole); one stopped by the time limit, said so."""
    told = STOPPED_WARNINGS.get(str(generated.get("finish_reason")))
    return [told] if told else []


def ask_prompt(question: str, facts: QuestionFacts | None, *, candidates: list[dict[str, Any]],
               hits: list[dict[str, Any]]) -> str:
    """The model's prompt: the numbered excerpts (`candidates`, made from `hits`) with what was measured, in the
    superlative's order where the question names one (said so, with the measurement ranked by), and the question."""
    ranked = SUPERLATIVES[facts.ranked][0] if facts and facts.ranked is not None else None
    listing = "\n".join(_listed(c, ranked_by=ranked, track=h.get("track"))
                        for c, h in zip(candidates, hits, strict=True))
    if ranked is not None and facts is not None:
        listing += f"\n(The excerpts are ordered {facts.ranked} first, by the {RANKED_WHAT[ranked]} measured.)"
    return (f"Excerpts:\n{listing}\n\nQuestion: {question}\n"
            "Answer in one or two sentences and cite the excerpts you used.")


def measured_answer(library: Library, *, owner: str, question: str, facts: QuestionFacts | None = None,
                    whose: str = YOURS) -> dict[str, Any] | None:
    """The answer to a question the measurements alone answer, no model asked: that no track was measured as it
    says, or, when it asks for nothing but those tracks, their list, or their ranking for a superlative ("the
    slowest track"), or every track (question_facts.py). None: it needs the model (a stranger's "which tracks are in
    D major?" had been given SmolLM2's invented titles and artists). `facts`: the question's, when read already;
    `whose`: how the answer names the library (whose_library)."""
    facts = question_facts(question) if facts is None else facts
    if not facts:
        return None
    if facts.ranked is not None:
        if not facts.listing:
            return None
        by, descending = SUPERLATIVES[facts.ranked]
        tracks = library.ranked_tracks(owner=owner, where=facts.track_filter(), by=by, descending=descending,
                                       limit=RANKED_SHOWN)
        return _measured_result(question, facts, tracks, _ranked_answer(facts, tracks, by, whose))
    if facts.files and facts.listing:  # "what key is song.wav in?", "is song.wav in D minor?": what it measured
        tracks = library.list_tracks(owner=owner, where=TrackFilter(filenames=facts.files), after=None,
                                     limit=MAX_LISTED_TRACKS)
        return _measured_result(question, facts, tracks, _named_answer(facts, tracks, whose))
    tracks = library.list_tracks(owner=owner, where=facts.track_filter(), after=None, limit=MAX_MEASURED_TRACKS + 1)
    if tracks and not facts.listing:
        return None
    return _measured_result(question, facts, tracks, _listed_answer(facts, tracks, whose))


def ask_search(library: Library, *, owner: str, question: str, limit: int) -> list[dict[str, Any]]:
    """The search of a question's candidates: hybrid, a passage a semantic match only at ASK_SEMANTIC_MIN or more
    to the question's best clause (a lyric line the text search finds is one whatever its cosine)."""
    return library.search(owner=owner, query=question, mode="hybrid", limit=limit, semantic_min=ASK_SEMANTIC_MIN,
                          by_clause=True)


def unmatched_answer(library: Library, *, owner: str, question: str, whose: str = YOURS) -> dict[str, Any] | None:
    """NOTHING_FOUND when the question names no measured fact and the search finds nothing for it (no passage at
    ASK_SEMANTIC_MIN to its best clause), else None (the model is asked). Told by the request: it had been a GPU
    job, a stranger's "which song has fast drums?" waiting 43 s behind a transcription to be told nothing
    matched."""
    if question_facts(question) or ask_search(library, owner=owner, question=question, limit=1):
        return None
    return {"question": question, "answer": nothing_found(question, whose), "model": None, "citations": [],
            "candidates": [], "cited_by": None, "warnings": [], "measured_filter": None}


def nothing_found(question: str, whose: str) -> str:
    """The answer when nothing matches: NOTHING_FOUND_AS, and NOT_ENGLISH_NOTE after it for a question that does not
    look like English (an English question keeps the sentence it always had)."""
    told = NOTHING_FOUND_AS.format(library=whose)
    return told if looks_english(question) else f"{told} {NOT_ENGLISH_NOTE}"


def _named_answer(facts: QuestionFacts, tracks: list[dict[str, Any]], whose: str) -> str:
    """What was measured of each track the question names by file ("groove_000.wav (session s1) was measured in A
    major (11B), at 72.4 BPM, in 4/4; it is 0:27 long."), and the names no track has."""
    lines = []
    for t in tracks:
        key = t.get("key") or {}
        code = f" ({key['camelot']})" if key.get("camelot") else ""
        parts = [f"in {key['label']}{code}" if key.get("label") else "",
                 f"at {float(t['tempo_bpm']):.1f} BPM" if t.get("tempo_bpm") else "",
                 f"in {t['metre']}" if t.get("metre") else ""]
        said = ", ".join(p for p in parts if p) + ("" if key.get("label") or not any(parts) else " (no key measured)")
        line = f"{t['filename']} (session {t['session_id']}) " + (f"was measured {said}" if said else
                                                                  "has no measured key, tempo or metre")
        if t.get("duration_seconds"):
            line += f"; it is {_clock(t['duration_seconds'])} long"
        lines.append(line + ".")
    held = {t["filename"].lower() for t in tracks}
    missing = [name for name in facts.files if name.lower() not in held]
    if missing:
        lines.append(f"No track in {whose} is named {' or '.join(missing)}.")
    return " ".join(lines)


def _listed_answer(facts: QuestionFacts, tracks: list[dict[str, Any]], whose: str) -> str:
    where = f" {facts.described()}" if facts.described() else ""
    if not tracks:
        return f"No track in {whose} was measured{where}." if where else f"{_sentence(whose)} holds no tracks yet."
    count = f"More than {MAX_MEASURED_TRACKS}" if len(tracks) > MAX_MEASURED_TRACKS else str(len(tracks))
    names = ", ".join(f"{t['filename']} (session {t['session_id']})" for t in tracks[:MAX_LISTED_TRACKS])
    rest = len(tracks) - min(len(tracks), MAX_LISTED_TRACKS)
    plural = len(tracks) != 1
    head = (f"{count} track{'s' if plural else ''} {'were' if plural else 'was'} measured{where}" if where
            else f"{_sentence(whose)} holds {count} track{'s' if plural else ''}")
    return f"{head}: {names}{f', and {rest} more' if rest > 0 else ''}."


def _ranked_answer(facts: QuestionFacts, tracks: list[dict[str, Any]], by: str, whose: str) -> str:
    where = f" {facts.described()}" if facts.described() else ""
    what = RANKED_WHAT[by]
    if not tracks:
        return f"No track in {whose}{where} has a measured {what}."
    first, *then = tracks
    answer = (f"The {facts.ranked} track{where} is {first['filename']} (session {first['session_id']}): "
              f"{_measure(first, by)}.")
    if then:
        answer += " Then " + ", ".join(f"{t['filename']} ({_measure(t, by)})" for t in then) + "."
    return answer


def _measured_result(question: str, facts: QuestionFacts, tracks: list[dict[str, Any]], answer: str) -> dict[str, Any]:
    shown = [excerpt(i, {"track": t}) for i, t in enumerate(tracks[:MAX_LISTED_TRACKS], start=1)]
    return {"question": question, "answer": answer, "model": None, "citations": shown, "candidates": shown,
            "cited_by": "measurements" if shown else None, "warnings": [], "measured_filter": facts.as_dict()}


def _measure(track: dict[str, Any], by: str) -> str:
    value = float(track[by])
    if by == "tempo_bpm":
        return f"{value:.1f} BPM"
    if by == "duration_seconds":
        return _clock(value)
    return f"{value:.1f} LUFS"


def measured_hits(library: Library, *, owner: str, question: str, facts: QuestionFacts,
                  limit: int) -> list[dict[str, Any]]:
    """The tracks measured as the question says, as hits: a track the search also finds comes with its best
    excerpt and ranks first (search order), the others follow in listing order (`limit` in all)."""
    tracks = library.list_tracks(owner=owner, where=facts.track_filter(), after=None, limit=MAX_MEASURED_TRACKS)
    if not tracks:
        return []
    by_id = {t["track_id"]: t for t in tracks}
    out: list[dict[str, Any]] = []
    for hit in ask_search(library, owner=owner, question=question, limit=MAX_MEASURED_TRACKS):
        if hit["track_id"] in by_id and len(out) < limit:
            out.append({**hit, "track": by_id.pop(hit["track_id"])})
    out += [{"track_id": t["track_id"], "track": t} for t in list(by_id.values())[:limit - len(out)]]
    return out


def ranked_hits(hits: list[dict[str, Any]], ranked: str) -> list[dict[str, Any]]:
    """The hits in the superlative's order ("slowest": by tempo, slowest first), tracks without that measurement
    last; the model is given them so, for a question that asks more than the ranking ("which slowest song mentions
    rain?"), where they had come in search order."""
    by, descending = SUPERLATIVES[ranked]
    known = sorted((h for h in hits if h["track"].get(by) is not None), key=lambda h: float(h["track"][by]),
                   reverse=descending)  # stable: equal measurements keep the search's order
    return known + [h for h in hits if h["track"].get(by) is None]


def named_candidates(response: str, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For an answer that cites no excerpt: the first excerpt of each track whose file the answer names, else the
    top-ranked one (a stranger's answer named song_mix.wav and was given speech.wav, the top candidate, as its
    citation)."""
    text = response.lower()
    named, seen = [], set()
    for c in candidates:
        if c["filename"].lower() in text and c["track_id"] not in seen:
            named.append(c)
            seen.add(c["track_id"])
    return named or candidates[:1]


def answer_warnings(response: str, *, prompt: str, candidates: list[dict[str, Any]], numbers: set[int]) -> list[str]:
    """What in the answer the excerpts do not support: citations of excerpts that were not given, and keys,
    tempi, files, titles and names the excerpts do not hold (worker/llm/claims.py); a looping answer is said to
    loop."""
    # a looping answer is said to loop, and what it claims is checked as any answer's (a loop had hidden a
    # stranger's comparison's wrong tempo)
    out = loop_warning(response)
    invented = sorted(n for n in numbers if not 1 <= n <= len(candidates))
    if invented:
        out.append(f"the answer cites {', '.join(f'[{n}]' for n in invented)}, but only {len(candidates)} excerpt"
                   f"{'s were' if len(candidates) != 1 else ' was'} given: those citations were left out")
    out += unsupported_claims(response, prompt=prompt, tracks=[c["filename"] for c in candidates])
    given = set(CLOCK_RE.findall(prompt))
    times = [t for t in dict.fromkeys(CLOCK_RE.findall(response)) if t not in given]
    if times:  # a stranger's answer put a 4-second track's line "at 0:30"
        out.append(f"the answer gives the time{'s' if len(times) > 1 else ''} {listed_items(times)}, which none "
                   "of the excerpts holds: the times of the lines are those of the citations")
    names = unknown_names(response, prompt=prompt)
    if names:  # SmolLM2 had answered "which tracks are in D major?" with titles and artists of its own
        out.append(f"the answer gives {listed_items(names)}, which none of the excerpts holds: a title, name or "
                   "quote the excerpts do not give may be invented")
    excerpts: dict[str, list[str]] = {}
    for c in candidates:
        excerpts.setdefault(c["filename"], []).append(c.get("text") or "")
    for quote, credited, holders in misattributed_quotes(response, excerpts)[:3]:
        out.append(f'the answer credits "{quote[:80]}" to {credited}, but {listed_items(holders)}\'s excerpts '
                   f"hold it, not {credited}'s: check which track says it")
    return out


def excerpt(n: int, hit: dict[str, Any]) -> dict[str, Any]:
    """A candidate as the model sees it and a citation names it: track, the line (or passage), its time, and
    what the analysis measured (so "what key is the river song in?" has its answer in front of the model)."""
    track, line, passage = hit["track"], hit.get("line"), hit.get("passage")
    if line:
        text, start, kind = line["text"], line.get("start_seconds"), "line"
    elif passage:
        text, start, kind = passage["text"], passage.get("start_seconds"), passage["kind"]
    else:
        text, start, kind = "", None, "track"
    return {"n": n, "track_id": track["track_id"], "session_id": track["session_id"], "filename": track["filename"],
            "kind": kind, "text": text[:EXCERPT_CHARS], "start_seconds": start,
            "line_no": line.get("line_no") if line else None, "measured": measured(track)}


def measured(track: dict[str, Any]) -> dict[str, Any]:
    key = track.get("key") or {}
    return {"key": key.get("label"), "tempo_bpm": track.get("tempo_bpm"), "metre": track.get("metre")}


def _listed(c: dict[str, Any], *, ranked_by: str | None = None, track: dict[str, Any] | None = None) -> str:
    """One numbered excerpt of the prompt; the measurements as claims.py reads them back ("D major", "N BPM"), and
    the one the excerpts are ranked by (`ranked_by`, read from `track`) where it is not among them."""
    line = f"[{c['n']}] \"{c['filename']}\" (session {c['session_id']})"
    if c["text"]:
        line += f", at {_clock(c['start_seconds'])}: \"{c['text']}\""
    m = c["measured"]
    facts = [f"key {m['key']}" if m["key"] else "", f"{m['tempo_bpm']:.1f} BPM" if m["tempo_bpm"] else "",
             f"metre {m['metre']}" if m["metre"] else ""]
    if ranked_by in ("duration_seconds", "loudness_lufs") and track and track.get(ranked_by) is not None:
        facts.append(f"{RANKED_WHAT[ranked_by]} {_measure(track, ranked_by)}")
    if any(facts):
        line += "; measured: " + ", ".join(f for f in facts if f)
    return line


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"
