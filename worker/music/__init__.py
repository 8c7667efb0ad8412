"""Music analysis ("Pitch Analysis"): key, tuning, chords, tempo/beats/downbeats/metre, melody.

Plain Python (numpy/scipy/librosa), no Flask or Celery: the task layer calls `run_pitch`,
the route validates `PitchOptions.from_request(body)` before enqueueing.
"""

from .options import STAGES, PitchOptions
from .pipeline import analyze_music, run_pitch

__all__ = ["STAGES", "PitchOptions", "analyze_music", "run_pitch"]
