"""Text-to-speech: the voice catalogue, pools of voice sessions, and streaming synthesis jobs.

- :class:`VoiceCatalogue` knows every voice without loading it: the configured Piper voices
  (``.onnx`` + ``.onnx.json``) and, for every language espeak-ng knows, a clearly labelled
  espeak-ng fallback voice (``neural=False``) built from the espeak-ng data piper-tts ships.
- :class:`VoicePool` holds up to ``size`` sessions of one voice (each its own ONNX session,
  CUDA when asked for and available), so concurrent requests do not queue on one session.
  A session is taken per piece of text and given back at once.
- :func:`plan_pieces` turns text or SSML into short pieces: the first is a short clause
  (first audio fast), the rest are sentences; each piece knows the silence after it.
- :class:`SynthesisJob` is one request's streaming core, no I/O: each blocking
  :meth:`~SynthesisJob.step` synthesizes the next piece and returns fixed-size output chunks
  in the wanted encoding and rate (one resampler carried across the whole request, a short
  fade at every joint: no gaps, no clicks). :meth:`~SynthesisJob.cancel` stops it before
  the next piece. The servicer, the CLI and the tests drive it.

piper and onnxruntime are imported lazily. Blocking: callers run ``step`` in a worker thread.
"""

from __future__ import annotations

import ctypes
import json
import logging
import math
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

import kernels

from . import ssml as ssml_mod
from . import textnorm
from .audio import Encoding, int16_to_bytes

_LOGGER = logging.getLogger(__name__)

ESPEAK_ENGINE = "espeak-ng"
PIPER_ENGINE = "piper"
ESPEAK_RATE = 22050
ESPEAK_PREFIX = "espeak-"
DEFAULT_SENTENCE_SILENCE_S = 0.2
DEFAULT_CHUNK_MS = 50
FIRST_PIECE_WORDS = 6  # the first piece (time to first audio) is at most about this long
PIECE_WORDS = 30  # later sentences longer than this are cut at clauses
CLAUSE_PAUSE_S = 0.08  # after a clause cut at a comma/semicolon inside a sentence
FADE_S = 0.004


# -- the catalogue ----------------------------------------------------------------------------

@dataclass(frozen=True)
class VoiceInfo:
    name: str
    language: str  # BCP-47, e.g. "en-US"
    sample_rate: int
    quality: str
    num_speakers: int
    model_path: Path | None
    neural: bool = True
    engine: str = PIPER_ENGINE
    speakers: tuple[str, ...] = ()  # speaker names by id (multi-speaker voices)
    espeak_voice: str = ""  # espeak-ng voice used to phonemise / to speak

    @property
    def base_language(self) -> str:
        return self.language.lower().split("-")[0]


def read_voice_info(onnx: Path) -> VoiceInfo:
    with open(f"{onnx}.json", encoding="utf-8") as fh:
        cfg = json.load(fh)
    lang = cfg.get("language", {}).get("code") or cfg.get("espeak", {}).get("voice", "")
    name = onnx.name[: -len(".onnx")] if onnx.name.endswith(".onnx") else onnx.stem
    speaker_map = cfg.get("speaker_id_map") or {}
    speakers = tuple(n for n, _ in sorted(speaker_map.items(), key=lambda kv: kv[1]))
    return VoiceInfo(
        name=name,
        language=lang.replace("_", "-"),
        sample_rate=int(cfg["audio"]["sample_rate"]),
        quality=str(cfg["audio"].get("quality", "")),
        num_speakers=int(cfg.get("num_speakers", 1)),
        model_path=onnx,
        speakers=speakers,
        espeak_voice=cfg.get("espeak", {}).get("voice", ""),
    )


def espeak_data_dir() -> Path:
    from piper.phonemize_espeak import ESPEAK_DATA_DIR

    return Path(ESPEAK_DATA_DIR)


def espeak_voices(data_dir: Path | None = None) -> list[VoiceInfo]:
    """One fallback voice per espeak-ng language file (``lang/<family>/<name>``)."""
    data_dir = data_dir or espeak_data_dir()
    voices = []
    for path in sorted((data_dir / "lang").glob("**/*")):
        if not path.is_file():
            continue
        language = ""
        try:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "language":
                    language = parts[1]
                    break
        except OSError:
            continue
        if not language or "-x-" in path.name:
            continue
        # BCP-47 casing: "en-us" -> "en-US", "pt-br" -> "pt-BR"
        bits = language.split("-")
        bcp = "-".join([bits[0].lower()] + [b.upper() if len(b) == 2 else b for b in bits[1:]])
        voices.append(VoiceInfo(
            name=f"{ESPEAK_PREFIX}{path.name}", language=bcp, sample_rate=ESPEAK_RATE, quality="fallback",
            num_speakers=1, model_path=None, neural=False, engine=ESPEAK_ENGINE, espeak_voice=path.name))
    return voices


# Whisper language codes whose espeak-ng name differs
_LANGUAGE_ALIASES = {"zh": "cmn", "jw": "jv", "haw": "haw", "nn": "nb", "no": "nb"}
_QUALITY = {"high": 0, "medium": 1, "low": 2, "x_low": 3}


class VoiceCatalogue:
    """Every configured voice, by name; the first is the default. Fallbacks come last."""

    def __init__(self, voices: list[VoiceInfo], fallbacks: bool | list[VoiceInfo] = True):
        if not voices:
            raise ValueError("at least one voice is required")
        self._voices = {v.name: v for v in voices}
        self.default = voices[0]
        extra = espeak_voices() if fallbacks is True else (fallbacks or [])
        for v in extra:
            self._voices.setdefault(v.name, v)

    def __iter__(self):
        return iter(self._voices.values())

    def get(self, name: str) -> VoiceInfo:
        try:
            return self._voices[name]
        except KeyError:
            neural = [v.name for v in self._voices.values() if v.neural]
            raise KeyError(f"voice {name!r} is unknown (neural voices: {', '.join(neural)}; "
                           f"fallbacks: {ESPEAK_PREFIX}<language>, see ListVoices)") from None

    def for_language(self, language: str) -> VoiceInfo | None:
        """Best voice for a BCP-47 code: neural before fallback, then exact region, then quality."""
        want = language.replace("_", "-").lower()
        base = want.split("-")[0]
        base = _LANGUAGE_ALIASES.get(base, base)
        same = [v for v in self._voices.values() if v.base_language == base]
        if not same:
            return None

        def rank(v: VoiceInfo):
            return (not v.neural, v.language.lower() != want, _QUALITY.get(v.quality, 4),
                    v.name != self.default.name, "-" in v.language and "-" not in want)

        return sorted(same, key=rank)[0]

    def select(self, name: str = "", language: str = "") -> VoiceInfo:
        if name:
            return self.get(name)
        if language:
            voice = self.for_language(language)
            if voice is None:
                raise KeyError(f"no voice for language_code {language!r} (not even an espeak-ng fallback)")
            return voice
        return self.default


# -- sessions ---------------------------------------------------------------------------------

class _PiperSession:
    """One Piper voice with its own ONNX session."""

    def __init__(self, info: VoiceInfo, use_cuda: bool, threads: int):
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        with open(f"{info.model_path}.json", encoding="utf-8") as fh:
            config = PiperConfig.from_dict(json.load(fh))
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if use_cuda and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
        elif use_cuda:
            _LOGGER.warning("CUDA asked for but onnxruntime has no CUDAExecutionProvider; Piper runs on CPU")
        session = onnxruntime.InferenceSession(str(info.model_path), sess_options=options, providers=providers)
        self.providers = session.get_providers()
        self._voice = PiperVoice(session=session, config=config)

    def synthesize(self, text: str, rate: float, speaker_id: int | None, deterministic: bool) -> np.ndarray:
        from piper import SynthesisConfig

        syn = SynthesisConfig(speaker_id=speaker_id, length_scale=self._voice.config.length_scale / rate,
                              normalize_audio=False)
        if deterministic:
            syn.noise_scale = 0.0
            syn.noise_w_scale = 0.0
        parts = [c.audio_float_array for c in self._voice.synthesize(text, syn_config=syn)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


class _EspeakLibrary:
    """espeak-ng's synthesizer, reached with ctypes inside piper's own ``espeakbridge``.

    piper-tts links espeak-ng statically into ``piper.espeakbridge`` (and exports its C API),
    so the same library instance that phonemises for Piper also speaks, with the data piper
    ships: no system package. espeak-ng is process-global, so every use holds piper's espeak
    lock and sets the voice it needs.
    """

    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def __init__(self):
        import piper.voice as piper_voice
        from piper import espeakbridge

        self._piper = piper_voice
        self._lock = getattr(piper_voice, "_ESPEAK_PHONEMIZER_LOCK", None) or threading.Lock()
        lib = ctypes.CDLL(espeakbridge.__file__)
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib = lib
        self._samples: list[np.ndarray] = []
        self._callback = self._CALLBACK(self._on_audio)  # keep a reference: C holds the pointer

    def _on_audio(self, wav, count, _events) -> int:
        if count > 0 and wav:
            self._samples.append(np.ctypeslib.as_array(wav, (count,)).copy())
        return 0

    def synthesize(self, voice: str, text: str, rate: float) -> np.ndarray:
        from piper.phonemize_espeak import EspeakPhonemizer

        data = text.encode("utf-8") + b"\0"
        with self._lock:
            if getattr(self._piper, "_ESPEAK_PHONEMIZER", None) is None:
                self._piper._ESPEAK_PHONEMIZER = EspeakPhonemizer(self._piper.ESPEAK_DATA_DIR)
            self._samples = []
            self._lib.espeak_SetSynthCallback(self._callback)
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise RuntimeError(f"espeak-ng has no voice {voice!r}")
            self._lib.espeak_SetParameter(1, int(max(80, min(450, 175 * rate))), 0)  # espeakRATE, words/min
            rc = self._lib.espeak_Synth(data, len(data), 0, 0, 0, 1, None, None)  # POS_CHARACTER, CHARS_UTF8
            self._lib.espeak_SetParameter(1, 175, 0)
            samples, self._samples = self._samples, []
        if rc != 0:
            raise RuntimeError(f"espeak-ng synthesis failed ({rc})")
        audio = np.concatenate(samples) if samples else np.zeros(0, np.int16)
        return kernels.int16_to_float32(audio)


_ESPEAK: _EspeakLibrary | None = None
_ESPEAK_INIT = threading.Lock()


def _espeak() -> _EspeakLibrary:
    global _ESPEAK
    with _ESPEAK_INIT:
        if _ESPEAK is None:
            _ESPEAK = _EspeakLibrary()
        return _ESPEAK


class _EspeakSession:
    def __init__(self, info: VoiceInfo):
        self._voice = info.espeak_voice
        self._lib = _espeak()
        self.providers = ["espeak-ng"]

    def synthesize(self, text: str, rate: float, speaker_id: int | None, deterministic: bool) -> np.ndarray:
        return self._lib.synthesize(self._voice, text, rate)


def default_pool_size() -> int:
    return max(2, min(4, os.cpu_count() or 2))


class VoicePool:
    """Up to ``size`` sessions of one voice, created on demand; take one per piece of text.

    Sessions are independent (own ONNX session each), so ``size`` requests synthesize at
    once. The level of the voice is calibrated once (its raw output peak on a reference
    sentence), so every piece of a request is scaled alike rather than peak-normalised one
    by one, which would make clauses of one sentence differ in loudness.
    """

    CALIBRATION = "This is a sentence at a normal speaking level, to set the output gain."

    def __init__(self, info: VoiceInfo, use_cuda: bool = False, size: int | None = None, threads: int = 0):
        self.info = info
        self.size = size or default_pool_size()
        self.use_cuda = use_cuda
        self.threads = threads
        self._idle: list = []
        self._created = 0
        self._in_use = 0
        self._cond = threading.Condition()
        self.rendered = 0  # pieces synthesized so far (observability, tests)
        self.gain = 1.0
        session = self._open()  # load one now: fail early, calibrate
        if info.engine == PIPER_ENGINE:
            peak = float(np.max(np.abs(session.synthesize(self.CALIBRATION, 1.0, None, True))) or 1.0)
            self.gain = min(8.0, 0.8 / peak)
        self._idle.append(session)
        _LOGGER.info("Voice %s ready (%s, pool of %d, providers %s, gain %.2f)", info.name, info.engine,
                     self.size, ",".join(map(str, session.providers)), self.gain)

    def _open(self):
        with self._cond:
            self._created += 1
        try:
            if self.info.engine == ESPEAK_ENGINE:
                return _EspeakSession(self.info)
            return _PiperSession(self.info, self.use_cuda, self.threads)
        except BaseException:
            with self._cond:
                self._created -= 1
            raise

    @property
    def in_use(self) -> int:
        """Sessions taken right now (0 when no request is synthesizing)."""
        return self._in_use

    @property
    def created(self) -> int:
        return self._created

    @contextmanager
    def session(self):
        """Take a session for one piece (blocking while all ``size`` are busy)."""
        with self._cond:
            while not self._idle and self._created >= self.size:
                self._cond.wait()
            sess = self._idle.pop() if self._idle else None
            self._in_use += 1
        try:
            if sess is None:
                sess = self._open()
            yield sess
        except BaseException:
            with self._cond:
                self._in_use -= 1
                if sess is not None:
                    self._idle.append(sess)
                self._cond.notify()
            raise
        else:
            with self._cond:
                self._in_use -= 1
                self._idle.append(sess)
                self._cond.notify()

    def render(self, text: str, rate: float = 1.0, speaker_id: int | None = None,
               deterministic: bool = False) -> np.ndarray:
        """One piece of text -> float32 audio at the voice's rate, level-calibrated (blocking)."""
        with self.session() as sess:
            audio = sess.synthesize(text, rate, speaker_id, deterministic)
        with self._cond:
            self.rendered += 1
        return audio * np.float32(self.gain) if self.gain != 1.0 else audio


# -- planning ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Piece:
    text: str  # what the voice reads ("" for pure silence)
    rate: float
    sentence_index: int
    sentence_text: str  # set on the first piece of each sentence, else ""
    pause_s: float  # silence after this piece
    sentence_end: bool


@dataclass
class _Run:
    text: str
    rate: float
    pause: float = 0.0


_CLOSED = re.compile(r"[.!?。！？…][\"'»”)\]]*$")


def plan_pieces(text: str, language: str = "en", *, is_ssml: bool = False, speaking_rate: float = 1.0,
                sentence_silence_s: float = DEFAULT_SENTENCE_SILENCE_S, first_words: int = FIRST_PIECE_WORDS,
                max_words: int = PIECE_WORDS) -> list[Piece]:
    """Text or SSML -> pieces to synthesize in order. Raises :class:`ssml.SsmlError`."""
    tokens = ssml_mod.parse(text, language) if is_ssml else [ssml_mod.Text(text)]
    sentences: list[tuple[list[_Run], float]] = []
    cur: list[_Run] = []
    lead = 0.0
    paragraph_s = sentence_silence_s + 0.3

    def add(t: str, rate: float):
        t = " ".join(t.split())
        if not t:
            return
        if cur and cur[-1].rate == rate and cur[-1].pause == 0:
            cur[-1].text = f"{cur[-1].text} {t}"
        else:
            cur.append(_Run(t, rate))

    def close(pause: float):
        nonlocal cur
        if cur:
            sentences.append((cur, pause))
            cur = []
        elif sentences:
            runs, old = sentences[-1]
            sentences[-1] = (runs, max(old, pause))

    for tok in tokens:
        if isinstance(tok, ssml_mod.Text):
            rate = tok.rate * speaking_rate
            if tok.verbatim:
                add(tok.text, rate)
                continue
            norm = textnorm.normalize(tok.text, language)
            parts = textnorm.split_sentences(norm)
            for i, part in enumerate(parts):
                add(part, rate)
                if i < len(parts) - 1 or _CLOSED.search(norm.strip()):
                    close(sentence_silence_s)
        elif isinstance(tok, ssml_mod.Break):
            if cur:
                cur[-1].pause += tok.seconds
            elif sentences:
                runs, old = sentences[-1]
                sentences[-1] = (runs, old + tok.seconds)
            else:
                lead += tok.seconds
        else:
            close(paragraph_s if tok.kind == "p" else sentence_silence_s)
    close(0.0)
    if sentences:  # nothing after the last sentence but what SSML asked for
        runs, pause = sentences[-1]
        sentences[-1] = (runs, 0.0 if pause in (sentence_silence_s, paragraph_s) else pause)

    pieces: list[Piece] = []
    if lead:
        pieces.append(Piece("", 1.0, 0, "", lead, False))
    for index, (runs, pause_after) in enumerate(sentences):
        sentence_text = " ".join(r.text for r in runs)
        flat: list[tuple[str, float, float]] = []
        for run in runs:
            if not pieces and not flat:
                clauses = textnorm.split_clauses(run.text, first_words, language)
                head, rest = clauses[0], " ".join(clauses[1:])
                chunks = [head] + (_limit(rest, max_words, language) if rest else [])
            else:
                chunks = _limit(run.text, max_words, language)
            for j, c in enumerate(chunks):
                last = j == len(chunks) - 1
                pause = run.pause if last else (CLAUSE_PAUSE_S if c[-1:] in ",;:" else 0.0)
                flat.append((c, run.rate, pause))
        for j, (c, rate, pause) in enumerate(flat):
            last = j == len(flat) - 1
            pieces.append(Piece(c, rate, index, sentence_text if j == 0 else "",
                                pause + (pause_after if last else 0.0), last))
    return pieces


def _limit(text: str, max_words: int, language: str) -> list[str]:
    return [text] if len(text.split()) <= max_words else textnorm.split_clauses(text, max_words, language)


# -- one request ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SynthesisOptions:
    encoding: Encoding = Encoding.LINEAR16
    sample_rate: int = 0  # 0: the voice's rate
    chunk_ms: int = DEFAULT_CHUNK_MS
    volume_gain_db: float = 0.0
    speaker_id: int | None = None
    deterministic: bool = False  # no sampling noise (tests: identical audio every time)


@dataclass(frozen=True)
class Chunk:
    audio: bytes  # in the job's encoding and rate
    samples: int
    sentence_index: int
    text: str  # the sentence's text on its first chunk, else ""


@dataclass
class JobStats:
    pieces_total: int = 0
    pieces_done: int = 0
    samples_out: int = 0
    chunks: int = 0
    cancelled: bool = False


class SynthesisJob:
    """One request, piece by piece: blocking :meth:`step` -> output chunks (or None at the end)."""

    def __init__(self, pool: VoicePool, pieces: list[Piece], options: SynthesisOptions = SynthesisOptions()):
        self.pool = pool
        self.pieces = pieces
        self.options = options
        self.in_rate = pool.info.sample_rate
        self.out_rate = options.sample_rate or self.in_rate
        self._resampler = kernels.StreamingResampler(self.in_rate, self.out_rate) if self.out_rate != self.in_rate else None
        self._chunk = max(1, self.out_rate * options.chunk_ms // 1000)
        self._gain = np.float32(10 ** (options.volume_gain_db / 20))
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._pending_sentence = 0
        self._pending_text = ""
        self._next = 0
        self._cancel = threading.Event()
        self._step_lock = threading.Lock()
        self.stats = JobStats(pieces_total=len(pieces))
        fade = max(1, int(FADE_S * self.in_rate))
        self._fade_in = (0.5 - 0.5 * np.cos(np.linspace(0, math.pi, fade))).astype(np.float32)

    @property
    def done(self) -> bool:
        return self._next >= len(self.pieces) or self._cancel.is_set()

    def cancel(self) -> None:
        """Stop before the next piece (thread-safe; a piece being synthesized is discarded)."""
        self._cancel.set()
        self.stats.cancelled = True

    def step(self) -> list[Chunk] | None:
        """Synthesize the next piece; its complete output chunks, or None when finished."""
        with self._step_lock:
            if self.done:
                return None
            piece = self.pieces[self._next]
            self._next += 1
            audio = np.zeros(0, np.float32)
            if piece.text:
                audio = self.pool.render(piece.text, piece.rate, self.options.speaker_id, self.options.deterministic)
                if self._cancel.is_set():
                    return None
                audio = self._shape(audio)
            self.stats.pieces_done += 1
            silence = np.zeros(int(round(piece.pause_s * self.in_rate)), np.float32)
            pcm = np.concatenate([audio, silence]) if silence.size else audio
            last = self._next >= len(self.pieces)
            if self._resampler is not None:
                pcm = self._resampler.process(np.ascontiguousarray(pcm, np.float32))
                if last:
                    pcm = np.concatenate([pcm, self._resampler.flush()])
            if piece.sentence_text:  # a new sentence: the chunks before it were flushed
                self._pending_sentence, self._pending_text = piece.sentence_index, piece.sentence_text
            return self._emit(kernels.float32_to_int16(np.ascontiguousarray(pcm, np.float32)),
                              flush=last or piece.sentence_end)

    def _shape(self, audio: np.ndarray) -> np.ndarray:
        audio = np.ascontiguousarray(audio, np.float32)
        if self._gain != 1:
            audio = audio * self._gain
        n = min(self._fade_in.size, audio.size // 2)
        if n:
            audio = audio.copy()
            audio[:n] *= self._fade_in[:n]
            audio[audio.size - n:] *= self._fade_in[:n][::-1]
        return np.clip(audio, -1.0, 1.0)

    def _emit(self, pcm: np.ndarray, flush: bool) -> list[Chunk]:
        if pcm.size:
            self._pending.append(pcm)
            self._pending_n += pcm.size
        chunks: list[Chunk] = []
        if not self._pending_n:
            return chunks
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        cut = (data.size // self._chunk) * self._chunk if not flush else data.size
        for start in range(0, cut, self._chunk):
            part = data[start:start + self._chunk]
            chunks.append(Chunk(int16_to_bytes(part, self.options.encoding), part.size,
                                self._pending_sentence, self._pending_text))
            self._pending_text = ""
        rest = data[cut:]
        self._pending = [rest] if rest.size else []
        self._pending_n = rest.size
        self.stats.chunks += len(chunks)
        self.stats.samples_out += sum(c.samples for c in chunks)
        return chunks

    def run(self) -> Iterator[Chunk]:
        """Every chunk, blocking (CLI, tests, the unary call)."""
        while (chunks := self.step()) is not None:
            yield from chunks
