"""Text-to-music with MusicGen: options.py (light), weights.py (find/load), pipeline.py (run_musicgen)."""
