"""What a clip too short to read a key or a tuning from says instead (pipeline.py).

A stranger's 0.19 s clip read "no key" (the note of pitched sound that names no one key: speech, or harmony moving
between keys) beside a G:min chord over the whole clip, and "0 cents from A440" from a tuning scan of 8 frames.
"""

from __future__ import annotations

# A key is told by a few chords; from less audio than this its confidence is scaled down in proportion and a
# warning says so (a stranger's 0.44 s "Let's go!" voice clip was "C major, confidence 0.59"). Every test-set
# item is 30 s or more: no figure moves.
SHORT_FOR_A_KEY_SECONDS = 4.0
# Tuning read from shorter audio is not worth reporting: on 16 cuts per length of 4 rendered tracks
# (bench/out/mma_family, tuned to A440) the tuning scan was off by a median 4-5 cents, 17-21 at the 90th percentile
# and up to 32 at 0.12-0.3 s; at 0.5, 1 and 2 s by 3 (median), 6 (90th percentile), 6.4 at most. (The chords of
# such cuts agree with the whole track's at that moment as often from 0.12 s as from 1 s, 78-81 %: they are kept.)
SHORT_FOR_TUNING_SECONDS = 0.5


def short_harmony_note(seconds: float) -> str:
    """The key's note where a clip under SHORT_FOR_A_KEY_SECONDS sounds pitched (its chords are read) yet names no
    key: too short to tell one, not "harmony that moves between keys"."""
    return (f"{seconds:.1f} s of pitched sound is too little to tell a key by (a few chords are needed); its "
            "chords are read")


def short_tuning_note(seconds: float) -> str:
    """The tuning's note (tuning_cents null) for a clip under SHORT_FOR_TUNING_SECONDS."""
    return f"{seconds:.1f} s is too short to read a tuning from: {SHORT_FOR_TUNING_SECONDS:.1f} s or more is needed"
