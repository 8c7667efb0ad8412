"""Audio features: loudness, spectral descriptors, MFCC, chroma from one STFT, and an overview picture.

`options.py` (FeaturesOptions, light), `pipeline.py` (run_features: decode -> features -> files),
`descriptors.py` (the measurements), `loudness.py` (ITU-R BS.1770-4), `plot.py` (the PNG).
"""
