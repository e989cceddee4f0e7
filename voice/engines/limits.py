"""Decode limits shared by the single and the batched Whisper paths (pure functions)."""

from __future__ import annotations

from ..core.audio import SAMPLE_RATE

FULL_WINDOW = 3000  # Whisper's 30 s, in mel frames
FRAMES_PER_SECOND = 100
# Silero VAD settings of every decode (a second, model-based speech check: webrtcvad passes
# music and noise)
VAD_PARAMETERS = {"min_silence_duration_ms": 1000, "speech_pad_ms": 600}


def encoder_window(samples: int, min_window_s: float) -> int:
    """Mel frames to encode ``samples`` of 16 kHz audio: the audio + 3 s, at least
    ``min_window_s``, at most 30 s; rounded up to whole seconds."""
    frames = samples // 160 + 300
    frames = max(frames, int(min_window_s * 100))
    return min(FULL_WINDOW, -(-frames // 100) * 100)


def max_new_tokens(samples: int) -> int:
    """Token cap for ``samples`` of 16 kHz audio (a guard against repetition loops)."""
    return min(400, int(samples / SAMPLE_RATE * 15) + 20)


