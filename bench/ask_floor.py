"""/library/ask's cosine floor: relevant and unrelated passages kept, scoring the whole question or its best clause.

    python3 -m bench.ask_floor [--transcripts t.json] [--json out.json]

Twelve short spoken texts on distinct subjects are spoken by espeak-ng and transcribed by Whisper tiny.en (real
transcripts, their slips included; --transcripts keeps them in a file and reads them back on the next run), and
indexed into a scratch SQLite library as the whisper job's results are. Each subject has two questions an owner
might ask (one sharing a word with the text, one saying it otherwise), and four questions are about no subject.
Each question is asked plain and with an instruction after it (". Then write the numbers from 1 to 300, ...",
"; answer in one word", ", then translate it into French", ...). A question-subject pair is scored by the
subject's best passage, as /library/ask's search reads it: `whole` the question's own cosine (the floor of
d566567, reverted in 7bd2d32), `clauses` the best cosine of its clauses (library/clauses.py), `both` the best of
either. Printed per floor: relevant pairs kept and unrelated pairs let through, plain and compound questions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SUBJECTS: dict[str, tuple[str, tuple[str, str]]] = {
    "river": ("Walking down the river road tonight. The water shines under the moon. I follow the stream back home.",
              ("which song is about walking by a river?", "a song about a stroll along the water at night")),
    "rain": ("The rain keeps falling on my town. Grey clouds hang over every street. My umbrella cannot keep me dry.",
             ("which song mentions rain?", "something about stormy wet weather")),
    "club": ("Dance all night under neon lights. The bass is loud and the floor is full. We move until the morning "
             "comes.", ("which track is about dancing?", "a party song for a nightclub")),
    "kitchen": ("Mother bakes bread in the kitchen. The smell of butter fills the house. We eat warm soup by the "
                "fire.", ("which song talks about food?", "something about cooking a meal at home")),
    "train": ("The last train leaves the station at nine. I watch the carriages roll away. The railway tracks go on "
              "forever.", ("is there a song about a train?", "a track about travelling by rail")),
    "war": ("Soldiers march across the frozen field. The cannons roar and the flags are torn. Nobody wins when the "
            "battle ends.", ("which song is about war?", "something about fighting in an army")),
    "sea": ("We sail the ship across the open sea. The waves are high and the wind is strong. The sailors sing as "
            "the harbour fades.", ("which song is about the sea?", "a song about sailors on a boat")),
    "phone": ("Please enter your account number followed by the hash key. Your call is important to us. Please hold "
              "while we connect you.", ("which recording is a phone menu?", "the customer service message")),
    "breakup": ("You left me on a cold December day. My heart is broken and I cannot sleep. I still keep your "
                "letters by my bed.", ("which song is about a breakup?", "a sad love song about someone leaving")),
    "football": ("The striker runs and shoots the ball. The goalkeeper dives but it is a goal. The crowd in the "
                 "stadium goes wild.", ("which song is about football?", "something about a soccer match")),
    "mountain": ("We climb the mountain trail at dawn. Snow lies on the highest peaks. The eagle circles over the "
                 "valley.", ("which song is about mountains?", "a song about hiking up a summit")),
    "space": ("The rocket rises into the dark. The astronauts float among the stars. The earth is small and blue "
              "below.", ("which track is about space travel?", "something about astronauts and planets")),
}
NO_SUBJECT = ("which song has fast drums?", "what is the best guitar solo?", "songs about my grandmother's cat",
              "which qwzx song has zyxwv blorptangle drums?")
# what follows a question in the compound set: a sentence, a "then" clause, a ";" clause (as a stranger asks)
INSTRUCTIONS = (" Then write the numbers from 1 to 300, separated by commas.", "; answer in one word",
                ", then translate your answer into French", " Explain your reasoning step by step and list every "
                "track you considered.", " and then tell me a joke about it", " Please keep it short and polite.")
# tests/test_web_library.py's verse (spoken at 140 words a minute there) and its Stop test's question, whose whole
# text's cosine to the verse's line had fallen under 0.3 (7bd2d32)
VERSE = "The lantern keeper rides the silver mountain train. Snow is falling on the station."
VERSE_QUESTIONS = ("Which song mentions a silver mountain train?", "Which song mentions a silver mountain train? "
                   "Then write the numbers from 1 to 300, separated by commas.")
FLOORS = (0.2, 0.25, 0.3, 0.35)
SCORINGS = ("whole", "clauses", "both")


def compound(questions: list[str]) -> list[str]:
    """Each question with an instruction after it: a new sentence after its "?", else joined in place of it."""
    out = []
    for i, q in enumerate(questions):
        then = INSTRUCTIONS[i % len(INSTRUCTIONS)]
        sentence = then[1].isupper()
        out.append((q if q.endswith("?") or not sentence else q + ".") + then if sentence else q.rstrip("?") + then)
    return out


def transcripts(folder: Path) -> dict[str, dict]:
    """Each subject's text spoken by espeak-ng and transcribed by tiny.en as the whisper job does."""
    import soundfile as sf

    from worker.audio_io import resample
    from worker.transcription.options import WhisperOptions
    from worker.transcription.pipeline import SAMPLE_RATE, transcribe
    from worker.transcription.weights import load_whisper

    model, _ = load_whisper("tiny.en", models_dir=folder / "models", device="cpu", cpu_threads=2)
    out = {}
    spoken = [(stem, text, "150") for stem, (text, _) in SUBJECTS.items()] + [("verse", VERSE, "140")]
    for stem, text, speed in spoken:
        wav = folder / f"{stem}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", speed, "-w", str(wav), text], check=True)
        y, sr = sf.read(wav, dtype="float32")
        pad = np.zeros(SAMPLE_RATE // 2, np.float32)
        out[stem] = transcribe(model, np.concatenate([pad, resample(y, orig_sr=sr, target_sr=SAMPLE_RATE), pad]),
                               WhisperOptions())
    return out


def scored(folder: Path, written: dict[str, dict], questions: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """question -> scoring -> {subject: its best passage's score}, the passages indexed as the worker does, the
    questions embedded as the API does."""
    from library.service import Library

    results = folder / "results"
    results.mkdir(exist_ok=True)
    library = Library({"DATA_DIR": str(folder / "data"), "DATABASE_URL": "", "TORCH_NUM_THREADS": 2})
    ids = {}
    for stem, transcript in written.items():  # the verse alone in a library of its own
        (results / f"transcript_{stem}.json").write_text(json.dumps(transcript))
        ids[library.index_file(owner="verse" if stem == "verse" else "bench", session_id="s1",
                               filename=f"{stem}.wav", results_dir=results)["track_id"]] = stem
    out = {q: _scores(library, "verse", ids, q) for q in VERSE_QUESTIONS}
    out.update({q: _scores(library, "bench", ids, q) for q in questions})
    library.db.close()
    return out


def _scores(library, owner: str, ids: dict[str, str], question: str) -> dict[str, dict[str, float]]:
    from library.clauses import question_clauses

    data = library.cache.passages(owner)
    subjects = [ids[track] for track, _ in data.keys]
    whole = data.matrix @ library.embed_query(question).astype(np.float32)
    parts = np.max([data.matrix @ library.embed_query(c).astype(np.float32) for c in question_clauses(question)],
                   axis=0)
    out = {}
    for name, scores in (("whole", whole), ("clauses", parts), ("both", np.maximum(whole, parts))):
        best: dict[str, float] = {}
        for stem, score in zip(subjects, scores, strict=True):
            best[stem] = max(best.get(stem, -1.0), round(float(score), 4))
        out[name] = best
    return out


def pairs(table: dict, plain: list[str], asked: list[str], scoring: str) -> tuple[list[float], list[float]]:
    """(relevant, unrelated) pair scores of the questions `asked` (plain[i]'s subject is its subject)."""
    relevant, unrelated = [], []
    about = [stem for stem, (_, qs) in SUBJECTS.items() for _ in qs] + [None] * len(NO_SUBJECT)
    for question, stem in zip(asked, about, strict=True):
        for other, v in table[question][scoring].items():
            (relevant if other == stem else unrelated).append(v)
    return relevant, unrelated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transcripts", type=Path, help="read the transcripts here if it exists, else write them")
    parser.add_argument("--json", type=Path, help="write the transcripts and scores here")
    args = parser.parse_args()
    plain = [q for _, qs in SUBJECTS.values() for q in qs] + list(NO_SUBJECT)
    mixed = compound(plain)
    with tempfile.TemporaryDirectory() as tmp:
        if args.transcripts and args.transcripts.exists():
            written = json.loads(args.transcripts.read_text())
        else:
            written = transcripts(Path(tmp))
            if args.transcripts:
                args.transcripts.write_text(json.dumps(written))
        table = scored(Path(tmp), written, plain + mixed)
    for stem, t in written.items():
        print(f"{stem:9s} heard: {t['text'].strip()}")
    for question in VERSE_QUESTIONS:
        print("verse:", " ".join(f"{s} {table[question][s]['verse']:.3f}" for s in SCORINGS), f" {question}")
    for question in mixed:
        rows = table[question]
        print(" ".join(f"{s} {max(rows[s].values()):.3f}" for s in SCORINGS), f" {question}")
    print(f"{'questions':9s} {'scoring':8s} " + " ".join(f"{'floor ' + str(f):>22s}" for f in FLOORS))
    for label, asked in (("plain", plain), ("compound", mixed)):
        for scoring in SCORINGS:
            relevant, unrelated = pairs(table, plain, asked, scoring)
            cells = [f"kept {sum(v >= f for v in relevant):2d}/{len(relevant)} let "
                     f"{sum(v >= f for v in unrelated):2d}/{len(unrelated)}" for f in FLOORS]
            print(f"{label:9s} {scoring:8s} " + " ".join(f"{c:>22s}" for c in cells))
    for label, asked in (("plain", plain), ("compound", mixed)):
        relevant, unrelated = pairs(table, plain, asked, "clauses")
        band = [v for v in unrelated if 0.2 <= v < 0.3]
        print(f"{label}: clauses relevant median {np.median(relevant):.3f}, unrelated median "
              f"{np.median(unrelated):.3f}; at 0.2-0.3: {len(band)} unrelated, "
              f"{sum(0.2 <= v < 0.3 for v in relevant)} relevant")
    if args.json:
        args.json.write_text(json.dumps({"transcripts": {s: t["text"] for s, t in written.items()},
                                         "scores": table}, indent=1))


if __name__ == "__main__":
    main()
