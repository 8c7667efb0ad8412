"""How near the shipped MiniLM puts a library question to a relevant and to an unrelated transcript passage.

    python3 -m bench.semantic_floor [--json out.json]

Twelve short spoken texts on distinct subjects (a river at night, rain, a club, cooking, a train, war, the sea, a
phone menu, a breakup, football, mountains, space) are spoken by espeak-ng, transcribed by Whisper tiny.en (real
transcripts, their slips included) and indexed into a scratch SQLite library as the whisper job's results are
(library/extract.py makes the passages). Each subject has two questions an owner might ask: one that shares a word
with the text, one that says it otherwise. Every question's cosine to every passage is read as /library/ask's search
reads it (the query through the API's numpy embedder, the passages through the worker's). Printed: the cosines of
each question to its own subject's passage (relevant) and to the others' (unrelated), and of four questions about
no subject to every passage; what floor separates them is for the reader (README's library section).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

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


def transcripts(folder: Path) -> dict[str, dict]:
    """Each subject's text spoken by espeak-ng and transcribed by tiny.en as the whisper job does."""
    from worker.transcription.options import WhisperOptions
    from worker.transcription.pipeline import SAMPLE_RATE, transcribe
    from worker.transcription.weights import load_whisper

    model, _ = load_whisper("tiny.en", models_dir=folder / "models", device="cpu", cpu_threads=2)
    out = {}
    for stem, (text, _) in SUBJECTS.items():
        wav = folder / f"{stem}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
        y, sr = sf.read(wav, dtype="float32")
        from worker.audio_io import resample

        y16 = resample(y, orig_sr=sr, target_sr=SAMPLE_RATE)
        pad = np.zeros(SAMPLE_RATE // 2, np.float32)
        out[stem] = transcribe(model, np.concatenate([pad, y16, pad]), WhisperOptions())
    return out


def cosines(folder: Path, written: dict[str, dict]) -> dict[str, dict[str, float]]:
    """question -> {subject: its best passage's cosine}, read as the library's search reads it."""
    from library.service import Library

    results = folder / "results"
    results.mkdir()
    library = Library({"DATA_DIR": str(folder / "data"), "DATABASE_URL": "", "TORCH_NUM_THREADS": 2})
    ids = {}
    for stem, transcript in written.items():
        (results / f"transcript_{stem}.json").write_text(json.dumps(transcript))
        ids[library.index_file(owner="bench", session_id="s1", filename=f"{stem}.wav",
                               results_dir=results)["track_id"]] = stem
    data = library.cache.passages("bench")
    out: dict[str, dict[str, float]] = {}
    for question in [q for _, qs in SUBJECTS.values() for q in qs] + list(NO_SUBJECT):
        scores = data.matrix @ library.embed_query(question).astype(np.float32)
        best: dict[str, float] = {}
        for (track, _), score in zip(data.keys, scores, strict=True):
            best[ids[track]] = max(best.get(ids[track], -1.0), round(float(score), 4))
        out[question] = best
    library.db.close()
    return out


def summary(values: list[float]) -> str:
    a = np.array(values)
    return (f"n={a.size} min {a.min():.3f} p10 {np.percentile(a, 10):.3f} median {np.median(a):.3f} "
            f"p90 {np.percentile(a, 90):.3f} max {a.max():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the transcripts and cosines here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        written = transcripts(Path(tmp))
        table = cosines(Path(tmp), written)
    for stem, t in written.items():
        print(f"{stem:9s} heard: {t['text'].strip()}")
    relevant, unrelated, nothing = [], [], []
    for stem, (_, questions) in SUBJECTS.items():
        for q in questions:
            own = table[q][stem]
            others = sorted(((s, v) for s, v in table[q].items() if s != stem), key=lambda sv: -sv[1])
            relevant.append(own)
            unrelated += [v for _, v in others]
            print(f"{own:6.3f}  nearest other {others[0][1]:6.3f} ({others[0][0]})  {q}")
    for q in NO_SUBJECT:
        top = max(table[q].items(), key=lambda sv: sv[1])
        nothing += list(table[q].values())
        print(f"  -     nearest {top[1]:6.3f} ({top[0]})  {q}")
    print("relevant  ", summary(relevant))
    print("unrelated ", summary(unrelated))
    print("no subject", summary(nothing))
    for floor in (0.2, 0.25, 0.3, 0.35, 0.4):
        kept = sum(v >= floor for v in relevant)
        let = sum(v >= floor for v in unrelated + nothing)
        print(f"floor {floor:.2f}: relevant kept {kept}/{len(relevant)}, unrelated let through "
              f"{let}/{len(unrelated) + len(nothing)}")
    if args.json:
        args.json.write_text(json.dumps({"transcripts": {s: t["text"] for s, t in written.items()},
                                         "cosines": table}, indent=1))


if __name__ == "__main__":
    main()
