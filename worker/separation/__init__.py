"""Source separation: Demucs models and weight-free DSP methods (HPSS, REPET-SIM), at constant memory.

options.py (SeparationOptions, light) · catalog.py (model names, where weights are; no torch) ·
weights.py (load_demucs) · pipeline.py (Separator, run_separation) · runner.py (segmented overlap-add) ·
streams.py (block-wise reading and writing) · dsp.py (the DSP methods).
"""
