#!/usr/bin/env bash
# The SONAR test lane: runs tests/sonar in a venv of its own, because fairseq2 0.8.1 only loads with torch 2.9.1
# while the core venv has a newer torch. The venv (~7.5 GB: torch 2.9.1 comes as a CUDA build) lives OUTSIDE the
# checkout and is reused while its pins match the stamp file inside it.
#   .ci/sonar_lane.sh                  # build the venv if needed, then run the tests
#   LCM_SONAR_VENV=/path .ci/sonar_lane.sh
# Exits with pytest's status; prints pytest's summary line.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LCM_SONAR_VENV:-$HOME/.cache/lcm-toolkit/sonar-venv}"
PYTHON="${PYTHON:-python3}"
# The [sonar] extra's pins: they install together, in ONE pip command (pip cannot resolve them one at a time).
PINS="torch==2.9.1 torchaudio==2.9.1 fairseq2==0.8.1 sonar-space==0.5.0"
# What the sonar tests need beyond the extra, plus the core's own libraries (pip picks versions that fit torch 2.9.1).
TEST_DEPS="sentencepiece soundfile pytest numpy pyarrow pyyaml rich safetensors sentence-transformers diffusers pysbd py3langid"
STAMP="$VENV/.lcm-sonar-stamp"
WANT="$PINS | $TEST_DEPS | $($PYTHON -c 'import sys; print(sys.version.split()[0])')"

say() { printf '[sonar-lane] %s\n' "$*"; }
# pip, minus this machine's noise about missing local index folders; keeps pip's exit status.
pip_q() {
    "$VENV/bin/pip" "$@" 2>&1 | { grep -v 'is neither a file nor a directory' || true; }
    return "${PIPESTATUS[0]}"
}

# 1. System library: fairseq2n links libsndfile for audio.
if ! ldconfig -p 2>/dev/null | grep -q 'libsndfile\.so\.1'; then
    say "installing libsndfile1"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y -q libsndfile1 >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q libsndfile1 >/dev/null; }
fi

# 2. The venv: reuse it while the stamp matches, else build it from scratch (a torch swap in place is not safe).
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    say "reusing $VENV"
else
    say "building $VENV (one pip command, ~2 min and ~7.5 GB on a fresh machine)"
    if [ -e "$VENV" ] && [ ! -f "$VENV/pyvenv.cfg" ]; then
        say "FAILED: $VENV exists and is not a venv; point LCM_SONAR_VENV at a new folder"; exit 1
    fi
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    start=$(date +%s)
    # shellcheck disable=SC2086
    pip_q install -q $PINS $TEST_DEPS
    say "installed in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1)"
    printf '%s' "$WANT" > "$STAMP"
fi

# 3. The checkout, with the core's dependencies, torch held at the pinned version.
cd "$REPO"
if [ -f pyproject.toml ]; then
    constraints="$(mktemp)"; trap 'rm -f "$constraints"' EXIT
    tr ' ' '\n' <<<"$PINS" > "$constraints"
    start=$(date +%s)
    if ! pip_q install -q -e . -c "$constraints"; then
        say "FAILED: the checkout's core dependencies do not install next to: $PINS"
        say "the core must accept torch 2.9.1 (and sentence-transformers 5.7 / diffusers 0.39 / transformers 4.57)"
        exit 1
    fi
    say "checkout installed (pip install -e . with torch pinned) in $(( $(date +%s) - start )) s"
else
    say "no pyproject.toml yet: testing the checkout through PYTHONPATH"
    export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
fi

# 4. The tests, offline. pytest -q ends with its summary line ("N passed in Xs").
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 FAIRSEQ2_NO_PROGRESS=1
set +e
"$VENV/bin/python" -m pytest tests/sonar -q -p no:cacheprovider "$@"
status=$?
set -e
say "pytest exit status $status"
exit "$status"
