"""Separation by signal processing alone: no weights, labelled "dsp" in results.

Both methods build soft masks that sum to one in every time-frequency bin and apply them to the mixture's
STFT, so the stems add back up to the mixture (up to the inverse STFT's rounding). Masks come from the
channel-averaged magnitude and are applied to every channel alike, which keeps the stereo image.

- `HPSS`: harmonic/percussive by median filtering across time and frequency (Fitzgerald 2010;
  `librosa.decompose.hpss`).
- `RepetSim`: vocals/accompaniment by similarity filtering, REPET-SIM (Rafii & Pardo 2012): the repeating
  accompaniment of each frame is estimated as the median of its most similar frames
  (`librosa.decompose.nn_filter`); what does not repeat is taken as the voice.

Callables take `(B, C, n)` float32 and return `(B, S, C, n)`. The runner feeds them windows of `segment`
seconds with cross-fades, which bounds memory (REPET's similarity matrix grows with the square of the frames).
"""

from __future__ import annotations

import numpy as np

from .catalog import DSP_STEMS

N_FFT = 2048  # samples; ~46 ms at 44.1 kHz
HOP = 512  # samples
HPSS_KERNEL = 31  # frames / bins of the median filters (librosa's default)
REPET_MIN_SECONDS = 2.0  # similar frames must lie at least this far apart (skips the frame's own note)
REPET_VOICE_MARGIN = 2.0  # > 1 makes the voice mask conservative: uncertain energy stays in the accompaniment
MASK_POWER = 2.0  # Wiener-like soft masks


def _stft(x: np.ndarray) -> np.ndarray:
    import librosa

    return librosa.stft(x, n_fft=N_FFT, hop_length=HOP)


def _istft(spec: np.ndarray, length: int) -> np.ndarray:
    import librosa

    return librosa.istft(spec, hop_length=HOP, n_fft=N_FFT, length=length).astype(np.float32)


def _apply_masks(x: np.ndarray, spec: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """x (B, C, n), spec (B, C, F, T), masks of (B, F, T) -> (B, S, C, n)."""
    stems = [_istft(spec * m[:, None], x.shape[-1]) for m in masks]
    return np.stack(stems, axis=1)


class HPSS:
    """Harmonic / percussive split (`hpss`)."""

    name = "hpss"
    sources = list(DSP_STEMS["hpss"])
    segment = 30.0  # seconds per window
    kernel_size = HPSS_KERNEL

    def __call__(self, x: np.ndarray, sr: int) -> np.ndarray:
        import librosa

        from ..median import median_along

        spec = _stft(x)
        mag = np.abs(spec).mean(axis=1)  # (B, F, T)
        # what is steady across time is harmonic, what is steady across frequency is percussive
        harm = median_along(mag, size=self.kernel_size, axis=2, mode="reflect")
        perc = median_along(mag, size=self.kernel_size, axis=1, mode="reflect")
        mask_h = librosa.util.softmask(harm, perc, power=MASK_POWER, split_zeros=True)
        return _apply_masks(x, spec, [mask_h, 1.0 - mask_h])


class RepetSim:
    """Vocals / accompaniment by REPET-SIM similarity filtering (`repet`)."""

    name = "repet"
    sources = list(DSP_STEMS["repet"])
    segment = 30.0  # seconds per window; the similarity matrix is (frames x frames)

    def __call__(self, x: np.ndarray, sr: int) -> np.ndarray:
        import librosa

        spec = _stft(x)
        mag = np.abs(spec).mean(axis=1)  # (B, F, T)
        width = int(librosa.time_to_frames(REPET_MIN_SECONDS, sr=sr, hop_length=HOP))
        masks = []
        for m in mag:
            if m.shape[-1] > 2 * width + 1:
                rep = librosa.decompose.nn_filter(m, aggregate=np.median, metric="cosine", width=width)
            else:  # too short to find repetitions: everything is accompaniment
                rep = m
            rep = np.minimum(m, rep)
            masks.append(librosa.util.softmask(m - rep, REPET_VOICE_MARGIN * rep, power=MASK_POWER,
                                               split_zeros=False))
        mask_v = np.stack(masks)
        return _apply_masks(x, spec, [mask_v, 1.0 - mask_v])


DSP_CLASSES = {"hpss": HPSS, "repet": RepetSim}


def dsp_method(name: str):
    return DSP_CLASSES[name]()
