"""An upload the server reads and the browser cannot decode, in a real browser (Debian's headless Chromium driven by
Playwright, against the live test service). AIFF, CAF and WavPack were said as such (tests/test_web_states.py); a
stranger's 64-bit float and IMA ADPCM WAVs (and an Ogg Vorbis file of hyperrogue-music that libvorbis reads and
Chromium's FFmpeg does not) had read "The waveform could not be drawn: Unable to decode audio data" under a
greyed-out player."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.browser_page import logged_in


@pytest.mark.needs_chromium
def test_a_wav_encoding_the_browser_cannot_decode_is_said_as_such(browser, server, client, session_id, audio_dir):
    from tests.test_api_sessions import upload

    t = np.arange(22050) / 22050
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    for name, subtype in (("double.wav", "DOUBLE"), ("adpcm.wav", "IMA_ADPCM")):
        sf.write(audio_dir / name, tone, 22050, subtype=subtype)
        assert upload(client, session_id, audio_dir / name).status_code == 201
    context, page, _ = logged_in(browser)
    try:
        for name in ("double.wav", "adpcm.wav"):
            page.goto(f"{server}/#session={session_id}&file={name}")
            status = page.locator("#track-status", has_text=f"cannot play {name}")
            status.wait_for()
            said = status.inner_text()
            assert "analyses are unaffected" in said and "Unable to decode" not in said, said
    finally:
        context.close()
