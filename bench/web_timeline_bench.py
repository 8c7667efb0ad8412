"""The web page's costs in the browser (Debian's headless Chromium, driven by Playwright): decoding an upload,
the waveform's peaks, and one frame of the timeline over the whole track and zoomed in, for a 3-minute song with
a realistic analysis (beats, bars, chords, melody). Prints medians, and each frame against a 60 Hz frame's
16.7 ms budget (the timeline is redrawn every frame while playing).

    python bench/web_timeline_bench.py [--minutes 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FRAME_BUDGET_MS = 1000 / 60

HARNESS = """<!DOCTYPE html><html><body>
<audio id="player"></audio><canvas id="timeline" style="width:1100px;height:260px"></canvas>
<script type="module">
import { Timeline, peaksOf } from '/web/js/timeline.js';
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
window.bench = async ({ runs, minutes, analysis }) => {
  const bytes = await (await fetch('/song.wav')).arrayBuffer();
  const decode = [], peaks = [];
  let buffer;
  for (let i = 0; i < runs; i += 1) {
    const ctx = new OfflineAudioContext(1, 1, 44100);
    let t = performance.now();
    buffer = await ctx.decodeAudioData(bytes.slice(0));
    decode.push(performance.now() - t);
    t = performance.now();
    peaksOf(buffer);
    peaks.push(performance.now() - t);
  }
  const audio = document.querySelector('#player');
  const line = new Timeline(document.querySelector('#timeline'), audio, { onNow: () => {} });
  line.setData({ ...analysis, duration: buffer.duration, peaks: peaksOf(buffer) });
  const canvas = document.querySelector('#timeline');
  // per frame: the mean over many frames, with a pixel read at the end so the GPU's queued work is counted
  const frames = (redrawStill) => {
    const n = runs * 20;
    const t = performance.now();
    for (let i = 0; i < n; i += 1) {
      if (redrawStill) line.layerKey = null; // as after a zoom or a scroll
      audio.currentTime = (i * 0.37) % buffer.duration;
      line.draw();
    }
    canvas.getContext('2d').getImageData(0, 0, 1, 1);
    return (performance.now() - t) / n;
  };
  const result = {};
  result.playing_whole = frames(false);
  result.view_change_whole = frames(true);
  line.pxPerSecond = 110; line.start = 60;  // about 10 s visible
  result.playing_zoomed = frames(false);
  result.view_change_zoomed = frames(true);
  return { decode: median(decode), peaks: median(peaks), ...result };
};
window.ready = true;
</script></body></html>"""


def song(minutes: float, sr: int = 44100) -> bytes:
    n = int(minutes * 60 * sr)
    t = np.arange(n) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(n)
    out = io.BytesIO()
    sf.write(out, np.stack([y, y], axis=1).astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return out.getvalue()


def analysis(minutes: float) -> dict:
    """What the pitch job gives for a 120 BPM 4/4 song: a beat every 0.5 s, a chord per bar, 4 notes per bar."""
    seconds = minutes * 60
    beats = [float(b) for b in np.arange(0, seconds, 0.5)]
    bars = beats[::4]
    names = ["C:maj", "F:maj", "G:7", "A:min"]
    chords = [{"start": b, "end": b + 2.0, "label": names[i % 4]} for i, b in enumerate(bars)]
    notes = [{"onset": b + k * 0.5, "offset": b + k * 0.5 + 0.4, "midi": 60 + (i + k) % 12}
             for i, b in enumerate(bars) for k in range(4)]
    return {"beats": beats, "downbeats": bars, "chords": chords, "notes": notes}


def serve(wav: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(ROOT), **kw)

        def do_GET(self):  # noqa: N802 (http.server's name)
            body, kind = {"/": (HARNESS.encode(), "text/html"), "/song.wav": (wav, "audio/wav")}.get(
                self.path, (None, None))
            if body is None:
                return super().do_GET()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    server, base = serve(song(args.minutes))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 1200, "height": 400})
            page.goto(base + "/")
            page.wait_for_function("() => window.ready === true")
            got = page.evaluate("(a) => window.bench(a)",
                                {"runs": args.runs, "minutes": args.minutes, "analysis": analysis(args.minutes)})
            browser.close()
    finally:
        server.shutdown()
    print(json.dumps({k: round(v, 2) for k, v in got.items()}))
    print(f"{args.minutes:g} min stereo 44.1 kHz WAV; decode and peaks: medians of {args.runs} runs; frames: means of "
          f"{args.runs * 20}")
    print(f"  decode (WebAudio)            {got['decode']:8.1f} ms")
    print(f"  waveform peaks               {got['peaks']:8.1f} ms  ({got['peaks'] / got['decode']:.2f} x the decode)")
    for name, label in (("playing_whole", "playing, whole track"), ("playing_zoomed", "playing, 10 s visible"),
                        ("view_change_whole", "zoom/scroll, whole track"),
                        ("view_change_zoomed", "zoom/scroll, 10 s visible")):
        print(f"  frame, {label:26s}{got[name]:7.2f} ms  ({got[name] / FRAME_BUDGET_MS:.2f} x a 60 Hz frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
