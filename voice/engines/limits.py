"""Decode limits shared by the single and the batched Whisper paths (pure functions).

The loop guard. Short number strings send Whisper into repetition loops ("quatre, quatre,
quatre, ..."; FINDINGS.md); faster-whisper's cure, the temperature fallback, re-runs the
whole decode up to five times, which is what delayed a French digit final by 8 s. Instead:

* :func:`max_new_tokens` caps the tokens of a decode by its audio (speech never needs more
  than :data:`TOKENS_PER_SECOND`), so a loop ends within the decode it started in;
* :func:`loop_start` finds a hypothesis that ran away (it hit the cap, or says more words a
  second than :data:`MAX_WORDS_PER_SECOND`) and ends in a repeated word or phrase; the
  recogniser keeps the text before the repeats plus one copy, in the same decode.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.audio import SAMPLE_RATE
from ..core.stability import word_key

# tokens a second of audio may take: fast speech with punctuation is ~5 (en); CJK more
TOKENS_PER_SECOND = 10
TOKEN_SLACK = 12
MAX_TOKENS = 400
# more words a second than anyone says (digits are read at ~2, fast speech ~4)
MAX_WORDS_PER_SECOND = 5.0

FULL_WINDOW = 3000  # Whisper's 30 s, in mel frames
FRAMES_PER_SECOND = 100
# Silero VAD settings of every decode (a second, model-based speech check: webrtcvad passes
# music and noise)
VAD_PARAMETERS = {"min_silence_duration_ms": 1000, "speech_pad_ms": 600}
# Silero's speech threshold when an answer is expected (a digits, yes/no... hint): the caller
# was just asked, and a short word on a phone line scores under Silero's default 0.5 (a
# 0.4 s Russian "нет" at 8 kHz: 0.4-0.5, so the decode heard nothing and the answer was lost).
# Noise let through still meets Whisper's no-speech check and the answer's grammar.
ANSWER_SPEECH_THRESHOLD = 0.35


def vad_parameters(expect: str = "free") -> dict:
    """Silero settings for a decode expecting ``expect`` (a voice.core.answers.Expect value)."""
    if expect and expect != "free":
        return {**VAD_PARAMETERS, "threshold": ANSWER_SPEECH_THRESHOLD}
    return VAD_PARAMETERS


def encoder_window(samples: int, min_window_s: float) -> int:
    """Mel frames to encode ``samples`` of 16 kHz audio: the audio + 3 s, at least
    ``min_window_s``, at most 30 s; rounded up to whole seconds."""
    frames = samples // 160 + 300
    frames = max(frames, int(min_window_s * 100))
    return min(FULL_WINDOW, -(-frames // 100) * 100)


def max_new_tokens(samples: int) -> int:
    """Token cap for ``samples`` of 16 kHz audio (a guard against repetition loops)."""
    return min(MAX_TOKENS, int(samples / SAMPLE_RATE * TOKENS_PER_SECOND) + TOKEN_SLACK)


def loop_start(words: Sequence[str], seconds: float, hit_cap: bool) -> int | None:
    """Where a runaway hypothesis should end (keep ``words[:n]``), or None when it is fine.

    A hypothesis is cut when it ends in a unit of 1-4 words said again and again: 4+ times
    (one word) or 3+ times (longer units) when it hit its token cap or says more than
    :data:`MAX_WORDS_PER_SECOND`; 6+ / 4+ times however fast. The text before the repeats
    and one copy of the unit stay. "1 1 1 1" read in two seconds stays whole.
    """
    keys = [word_key(w) for w in words]
    n = len(keys)
    if n < 4:
        return None
    fast = hit_cap or n > MAX_WORDS_PER_SECOND * max(seconds, 0.1)
    if hit_cap:  # the cap may have cut the last word in half ("NON NON NON N"): not part of it
        keys, n = keys[:-1], n - 1
    best: int | None = None
    for unit in range(1, 5):
        repeats = 1
        while n - (repeats + 1) * unit >= 0 and keys[n - (repeats + 1) * unit:n - repeats * unit] == keys[n - unit:]:
            repeats += 1
        needed = (4 if unit == 1 else 3) if fast else (6 if unit == 1 else 4)
        if repeats >= needed:
            keep = n - repeats * unit + unit
            best = keep if best is None else min(best, keep)
    return best
