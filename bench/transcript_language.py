"""Which of Whisper's own numbers tell that an English-only model (tiny.en) heard a language it does not know?

tiny.en cannot detect a language: it writes English for any speech (Asterisk's French `privacy-prompt.wav` read
"Thank you very much and thank you very much ..." with `language_probability` 1.0 and an average log-probability of
-0.93, just above the "may be made up" threshold). This bench runs the job's own transcription function
(`transcribe_blocks` over `mono_blocks`, as `run_transcription` does, with the job's default options) on real
telephone prompts in several languages and prints, per family, how often each candidate signal flags a file.

FIT: a fixed-seed half of the English and Canadian-French prompt names (the same names in both languages); the rule
and its threshold are chosen on it only. HELD-OUT: the other half of both, and every Spanish, Italian and Russian
prompt (nothing is fitted on them). Asterisk core sounds 1.6.1 (Debian asterisk-core-sounds-{en,fr,es,it,ru}-wav,
CC BY-SA 3.0), and other voices: Tux Paint's spoken stamp descriptions (tuxpaint-stamps-default, GPL-2; English
and French and Spanish by volunteers, 44.1 kHz, 1-3 s), all extracted with `apt-get download` + `dpkg -x`:

    python bench/transcript_language.py --sounds /tmp/debs/x/usr/share/asterisk/sounds \
        --tuxpaint /tmp/debs2/x/usr/share/tuxpaint [--cache /tmp/tl.jsonl] [--sample 120]

The transcripts are cached (one JSON line per file) so that the figures can be read again without Whisper.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from worker.transcription.language import (  # noqa: E402
    MAX_AVG_LOGPROB,
    MIN_MEAN_PROBABILITY,
    MIN_SPEECH_SECONDS,
    RULE_SIGNAL,
    transcript_certainty,
    uncertain_words_warning,
)

# family: (source, folder, file pattern); "-tux": Tux Paint's spoken stamp descriptions (Debian
# tuxpaint-stamps-default 2022.06.04, GPL-2), other voices recorded by volunteers at 44.1 kHz, mostly 1-3 s
FAMILIES = {"en": ("asterisk", "en_US_f_Allison", "*.wav"), "fr": ("asterisk", "fr_CA_f_June", "*.wav"),
            "es": ("asterisk", "es_MX_f_Allison", "*.wav"), "it": ("asterisk", "it_IT_m_Carlo", "*.wav"),
            "ru": ("asterisk", "ru_RU_f_IvrvoiceRU", "*.wav"), "en-tux": ("tuxpaint", "stamps", "*_desc.ogg"),
            "fr-tux": ("tuxpaint", "stamps", "*_desc_fr.ogg"), "es-tux": ("tuxpaint", "stamps", "*_desc_es.ogg")}
FITTED = ("en", "fr")
SEED = 0


def fit_names(names: set[str]) -> set[str]:
    """A fixed-seed half of the prompt names (the same half in English and French)."""
    ordered = sorted(names)
    random.Random(SEED).shuffle(ordered)
    return set(ordered[: len(ordered) // 2])


def held_out_sample(paths: list[Path], count: int) -> list[Path]:
    """A fixed-seed sample of `count` prompts of a family (all of them when count is 0); a smaller sample is the
    start of a larger one (so the cache serves both)."""
    shuffled = sorted(paths)
    random.Random(SEED).shuffle(shuffled)
    return sorted(shuffled[:count] if count else shuffled)


def transcribe_all(roots: dict[str, Path], cache: Path, families: list[str], *, sample: int = 0,
                   threads: int = 0, cached_only: bool = False, part: tuple[int, int] = (0, 1)) -> list[dict]:
    from worker.audio_blocks import mono_blocks, stream_info
    from worker.transcription.options import WhisperOptions
    from worker.transcription.pipeline import SAMPLE_RATE, transcribe_blocks
    from worker.transcription.weights import load_whisper

    done = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            row = json.loads(line)
            done[(row["family"], row["name"])] = row
    model = None
    options = WhisperOptions()
    rows = []
    with cache.open("a") as out:
        for family in families:
            source, folder, pattern = FAMILIES[family]
            paths = sorted((roots[source] / folder).rglob(pattern))
            for i, path in enumerate(paths if family == "en" else held_out_sample(paths, sample)):
                name = str(path.relative_to(roots[source] / folder))
                if (family, name) in done:
                    rows.append(done[(family, name)])
                    continue
                if cached_only or i % part[1] != part[0]:
                    continue
                if model is None:
                    model, _ = load_whisper(options.model, models_dir=None, cpu_threads=threads)
                info = stream_info(path)
                t0 = time.perf_counter()
                try:
                    tr = transcribe_blocks(model, mono_blocks(path, target_sr=SAMPLE_RATE), options,
                                           total_seconds=info.frames / info.sample_rate)
                except Exception as e:  # noqa: BLE001 - a prompt too short is one row, not the end of the bench
                    tr = {"error": str(e)}
                row = {"family": family, "name": name, "seconds": info.frames / info.sample_rate,
                       "run_seconds": round(time.perf_counter() - t0, 3), "transcript": tr}
                out.write(json.dumps(row) + "\n")
                out.flush()
                rows.append(row)
    return rows


def signals(row: dict) -> dict | None:
    tr = row["transcript"]
    if "error" in tr or not any(s["text"] for s in tr["segments"]):
        return None
    return transcript_certainty(tr["segments"])


CANDIDATES = {  # name: (signal key, fires when the value is below (-1) or above (+1) the threshold)
    "mean word probability (by duration)": ("duration_mean_probability", -1),
    "mean word probability (by characters)": ("text_mean_probability", -1),
    "mean word probability (plain)": ("mean_probability", -1),
    "average log-probability (by characters)": ("avg_logprob", -1),
    "share of words under p 0.5": ("share_under_half", +1),
    "compression ratio of the text": ("compression_ratio", +1),
    "repeated 3-gram share": ("repeated_trigram_share", +1),
    "share of zero-length words": ("zero_length_share", +1),
}


def rate(values: list[float], threshold: float, sign: int) -> float:
    if not values:
        return float("nan")
    return sum((v > threshold) if sign > 0 else (v < threshold) for v in values) / len(values)


def best_threshold(en: list[float], foreign: list[float], sign: int, max_en: float) -> tuple[float, float, float]:
    """The threshold with the most foreign files flagged among those flagging at most `max_en` of English."""
    best = (float("nan"), 0.0, 0.0)
    for t in sorted(set(en) | set(foreign)):
        t = t + (1e-9 if sign < 0 else -1e-9)  # the rule is strict: a value at t itself would fire
        e, f = rate(en, t, sign), rate(foreign, t, sign)
        if e <= max_en and f > best[2]:
            best = (t, e, f)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sounds", type=Path, default=Path("/tmp/debs/x/usr/share/asterisk/sounds"))
    ap.add_argument("--tuxpaint", type=Path, default=Path("/tmp/debs2/x/usr/share/tuxpaint"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/transcript_language.jsonl"))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--max-en", type=float, default=0.05, help="largest share of English FIT files to flag")
    ap.add_argument("--min-speech", type=float, nargs="*", default=[0.0, 1.0, 2.0],
                    help="seconds of words a file needs before a rule may fire (several: each is tried)")
    ap.add_argument("--sample", type=int, default=120,
                    help="prompts of each family but English (0: all; English ones are quick and their false "
                         "alarms matter: all of them)")
    ap.add_argument("--threads", type=int, default=0, help="Whisper's CPU threads (0: its default)")
    ap.add_argument("--cached-only", action="store_true", help="read the cache; transcribe nothing")
    ap.add_argument("--part", default="0/1", help="i/n: transcribe every n-th file from the i-th (runs in parallel, "
                                                  "each with its own cache; then concatenate the caches)")
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f in FAMILIES]
    rows = transcribe_all({"asterisk": args.sounds, "tuxpaint": args.tuxpaint}, args.cache, families,
                          sample=args.sample, threads=args.threads, cached_only=args.cached_only,
                          part=(int(args.part.split("/")[0]), int(args.part.split("/")[1])))
    fit = fit_names({r["name"] for r in rows if r["family"] in FITTED})
    groups: dict[str, list[dict]] = {}
    skipped: dict[str, int] = {}
    for r in rows:
        s = signals(r)
        split = "fit" if r["family"] in FITTED and r["name"] in fit else "held-out"
        key = f"{r['family']} {split}"
        if s is None:
            skipped[key] = skipped.get(key, 0) + 1
            continue
        groups.setdefault(key, []).append(s)
    order = [k for k in (f"{f} {s}" for s in ("fit", "held-out") for f in families) if k in groups]
    print("files (no words: not counted): " + ", ".join(f"{k} {len(groups[k])} ({skipped.get(k, 0)})"
                                                         for k in order))
    secs = [r["run_seconds"] for r in rows]
    print(f"transcription: {sum(secs):.0f} s for {len(secs)} files\n")
    for min_speech in args.min_speech:
        print(f"== rules that fire only with at least {min_speech:g} s of words; thresholds chosen on FIT so "
              f"that at most {args.max_en:.0%} of English FIT files fire ==")
        print(f"{'signal':42} {'threshold':>9} " + " ".join(f"{k:>12}" for k in order))
        for label, (key, sign) in CANDIDATES.items():
            t, _, _ = best_threshold(values(groups, "en fit", key, min_speech), values(groups, "fr fit", key,
                                                                                        min_speech), sign, args.max_en)
            print(f"{label:42} {t:9.3f} " + " ".join(f"{flags(groups, k, key, sign, t, min_speech):12.1%}"
                                                      for k in order))
        print()
    print(f"== the job's rule: {RULE_SIGNAL} under {MIN_MEAN_PROBABILITY} with at least "
          f"{MIN_SPEECH_SECONDS:g} s of words (shares of all files with words) ==")
    rule = (RULE_SIGNAL, -1, MIN_MEAN_PROBABILITY, MIN_SPEECH_SECONDS)
    print(" ".join(f"{k} {flags(groups, k, *rule):.1%}" for k in order))
    enough = {k: len(values(groups, k, RULE_SIGNAL, MIN_SPEECH_SECONDS)) for k in order}
    print("of the files with enough words: " + " ".join(
        f"{k} {flags(groups, k, *rule) * len(groups[k]) / max(enough[k], 1):.1%} ({enough[k]})" for k in order))
    # the stand-in without word times: the same transcripts with their words taken out (the words' times are then
    # unknown, so the segments' length counts as speech)
    fires: dict[str, list[bool]] = {}
    for r in rows:
        split = "fit" if r["family"] in FITTED and r["name"] in fit else "held-out"
        if signals(r) is not None:
            bare = [{**seg, "words": []} for seg in r["transcript"]["segments"]]
            fires.setdefault(f"{r['family']} {split}", []).append(
                bool(uncertain_words_warning(bare, english_only=True, model_name="tiny.en")))
    print(f"without word times: average log-probability under {MAX_AVG_LOGPROB} with at least "
          f"{MIN_SPEECH_SECONDS:g} s of segments: " + " ".join(f"{k} {sum(fires[k]) / len(fires[k]):.1%}"
                                                               for k in order))
    for r in rows:
        s = signals(r)
        if r["family"].startswith("en") and s and s["speech_seconds"] >= MIN_SPEECH_SECONDS \
                and s[RULE_SIGNAL] < MIN_MEAN_PROBABILITY:
            print(f"  English flagged: {r['family']} {r['name']} {s[RULE_SIGNAL]:.2f} "
                  f"{r['transcript']['text'][:80]!r}")


def values(groups: dict[str, list[dict]], group: str, key: str, min_speech: float) -> list[float]:
    return [s[key] for s in groups.get(group, []) if s["speech_seconds"] >= min_speech and s[key] is not None]


def flags(groups: dict[str, list[dict]], group: str, key: str, sign: int, t: float, min_speech: float) -> float:
    """Share of ALL the group's files with words that fire (one with too little speech does not)."""
    return sum((v > t) if sign > 0 else (v < t) for v in values(groups, group, key, min_speech)) / len(groups[group])

if __name__ == "__main__":
    main()
