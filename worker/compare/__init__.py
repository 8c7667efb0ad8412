"""Song comparison: options.py (light), relations.py (key and tempo relations computed, not guessed),
pipeline.py (run_compare: the tracks' measured analyses -> one grounded LLM comparison)."""
