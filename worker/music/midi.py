"""The melody as a standard MIDI file."""

from __future__ import annotations

from pathlib import Path

from worker.files import atomic_path

MELODY_PROGRAM = 73  # GM flute: a clear, neutral lead for listening back
MELODY_VELOCITY = 100
MIN_NOTE_SECONDS = 0.02


def write_melody_midi(path: Path, notes: list[dict], *, tempo_bpm: float | None = None) -> None:
    """Write notes [{onset, offset, midi}] (seconds) as a one-track MIDI file, atomically.

    The tempo only sets the file's tempo map (so a DAW shows bars at the detected tempo);
    note times are absolute seconds either way.
    """
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=float(tempo_bpm) if tempo_bpm else 120.0)
    inst = pretty_midi.Instrument(program=MELODY_PROGRAM, name="melody")
    for n in notes:
        start = float(n["onset"])
        end = max(float(n["offset"]), start + MIN_NOTE_SECONDS)
        inst.notes.append(pretty_midi.Note(MELODY_VELOCITY, int(n["midi"]), start, end))
    pm.instruments.append(inst)
    with atomic_path(path) as tmp:
        pm.write(str(tmp))
