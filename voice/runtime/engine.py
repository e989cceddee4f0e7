"""The speech engine: owns the loaded models and the worker threads that run them.

Created once at start-up and passed to whoever needs it (servicers, CLI, tests). Blocking
inference runs in its thread pools, never on the event loop: use the ``async`` methods from
asyncio code. Jobs are bounded by the callers (each stream has at most one final and one
interim decode in flight; the server caps the number of streams).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..config import Config
from ..core.audio import SAMPLE_RATE
from ..core.telemetry import NO_TELEMETRY, Telemetry
from ..core.transcripts import DecodeOptions, Transcript
from ..engines import fw_compat, piper_compat
from ..engines.devices import (
    DeviceChoice,
    choose_batch_size,
    choose_device,
    cuda_device_count,
)
from ..engines.kokoro import KokoroModel, KokoroPool, find_pack_files, kokoro_voices
from ..engines.piper import VoicePool, default_pool_size
from ..engines.voices import (
    KOKORO_ENGINE,
    WER_TABLE,
    VoiceCatalogue,
    VoiceInfo,
    load_wer_tables,
    read_voice_info,
)
from ..engines.whisper import WhisperRecognizer
from .models import (
    BUILTIN_ASR_MODELS,
    embedded_kokoro_packs,
    embedded_voice_path,
    find_voice_files,
    installed_voice_files,
    kokoro_available,
    kokoro_vocab_path,
    resolve_kokoro_model,
    route_model,
    whisper_small_problem,
    resolve_whisper_model,
    voices_dir,
)
from .scheduler import DecodeScheduler, Priority

_LOGGER = logging.getLogger(__name__)


class SpeechEngine:
    def __init__(self, config: Config):
        self.config = config
        self.device: DeviceChoice = choose_device(
            config.asr.device, config.asr.compute_type, cuda_device_count()
        )
        self._recognizers: dict[str, WhisperRecognizer] = {}
        self._synthesizers: dict[str, VoicePool | KokoroPool] = {}
        self._kokoro: KokoroModel | None = None  # shared by every Kokoro voice, loaded on first use
        self._kokoro_lock = threading.Lock()
        self._load_lock = threading.Lock()
        # one queue for every stream's decodes: finals before interims (voice.scheduler)
        self.batch_size = choose_batch_size(config.asr.batch_size, self.device)
        self.scheduler = DecodeScheduler(config.asr.num_workers, max_batch=self.batch_size)
        self._tts_pool = ThreadPoolExecutor(config.tts.workers, thread_name_prefix="tts")
        self._nlu_pool = ThreadPoolExecutor(1, thread_name_prefix="intent")
        self.intents = None  # voice.engines.intent.IntentEngine once loaded (None when disabled)
        self.dialogue = None  # voice.core.dialogue.DialogueTables of the same intents file
        self.turn = None  # voice.engines.turn.SmartTurn once loaded (None: not installed)
        self.catalogue = self._build_catalogue()
        self._check_routes()
        self.ready = threading.Event()
        self.telemetry: Telemetry = NO_TELEMETRY  # see set_telemetry

    def set_telemetry(self, telemetry: Telemetry) -> None:
        """Report latencies, decode jobs and audio to ``telemetry`` (a door's metrics)."""
        self.telemetry = telemetry
        self.scheduler.telemetry = telemetry

    # -- loading ----------------------------------------------------------------------
    def _build_catalogue(self) -> VoiceCatalogue:
        tts = self.config.tts
        voices: list[VoiceInfo] = []
        configured = find_voice_files(list(tts.voices))
        embedded = read_voice_info(embedded_voice_path())
        if tts.voice.endswith(".onnx"):
            voices.append(read_voice_info(find_voice_files([tts.voice])[0]))
        voices += [read_voice_info(p) for p in configured]
        installed_dir = voices_dir(tts.voices_dir, self.config.cache_dir)
        installed_piper, installed_packs = installed_voice_files(installed_dir)
        voices += [read_voice_info(p) for p in installed_piper]
        voices.append(embedded)
        packs = [*find_pack_files(list(tts.kokoro_voices)), *installed_packs]
        if tts.kokoro and kokoro_available():
            packs.append(embedded_kokoro_packs())
        voices += kokoro_voices(packs, tts.kokoro_languages)
        unique = list({v.name: v for v in voices}.values())
        if not tts.voice.endswith(".onnx"):
            # configured default by name goes first
            unique.sort(key=lambda v: v.name != tts.voice)
            if unique[0].name != tts.voice:
                raise ValueError(f"tts.voice {tts.voice!r} is not in the catalogue ({', '.join(v.name for v in unique)})")
        wer = load_wer_tables([WER_TABLE, installed_dir / "voice_wer.json"])
        return VoiceCatalogue(unique, fallbacks=tts.fallbacks, wer=wer)

    @property
    def model_names(self) -> list[str]:
        small = ["small"] if "small" not in self.config.asr.models and whisper_small_problem() is None else []
        return [*BUILTIN_ASR_MODELS, *small, *self.config.asr.models]

    def model_for(self, model: str | None, language: str | None) -> str | None:
        """The model a decode runs on: the client's, else its language's [asr.routes] entry,
        else None (the default)."""
        return route_model(self.config.asr.routes, model, language)

    def _check_routes(self) -> None:
        known = self.model_names
        for language, name in self.config.asr.routes.items():
            if name not in known and name != self.config.asr.model:
                why = whisper_small_problem() if name == "small" else f"known: {', '.join(known)}"
                raise ValueError(f"asr.routes.{language} = {name!r}: that model is not available ({why})")

    def load(self) -> None:
        """Load the default models, compile and warm the kernels and models (blocking)."""
        import kernels

        t0 = time.monotonic()
        fw_compat.check()  # a changed library fails here, naming the module to update
        piper_compat.check()
        kernels.warmup()
        rec = self.recognizer(None)
        # one real decode so the first request does not pay for lazy initialisation
        rng = np.random.default_rng(0)
        rec.transcribe((rng.standard_normal(SAMPLE_RATE) * 0.01).astype(np.float32), DecodeOptions(language="en", beam_size=1))
        self.synthesizer(self.catalogue.default).render("Ready.")
        self.load_intents()
        if self.intents is not None:
            # languages served through the sentence encoder build their number words at first
            # use (~1 s each): a server does it now, off the start-up path, on the intent thread
            for lang in self.intents.foreign_languages:
                self._nlu_pool.submit(self.intents.understand, "hello", lang)
        self.load_reply_voices()
        self.load_turn_model()
        self.ready.set()
        _LOGGER.info("Engine ready in %.1f s (device %s/%s)", time.monotonic() - t0, self.device.device, self.device.compute_type)

    def load_reply_voices(self) -> None:
        """Load the voice each language of the dialogue is answered in (the catalogue's best),
        so a caller's first reply does not wait for a voice (Kokoro's model, a pack's level)."""
        if self.dialogue is None:
            return
        for lang in self.dialogue.languages:
            voice = self.catalogue.for_language(lang)
            if voice is not None and voice.name != self.catalogue.default.name:
                self.synthesizer(voice)

    def load_intents(self) -> None:
        """Train or load (cached by file hash) the intent model of the configured domain."""
        cfg = self.config.intent
        if not cfg.enabled or self.intents is not None:
            return
        from pathlib import Path

        from ..engines.intent import IntentEngine
        from ..engines.intent.domainfile import load_dialogue

        from ..engines.intent import TrainConfig

        path = Path(cfg.file) if cfg.file else None
        encoder = "" if cfg.encoder == "none" else cfg.encoder  # the dense features' sentence encoder
        self.intents = IntentEngine.load(path, cfg.languages or None, Path(self.config.cache_dir) / "intents",
                                         TrainConfig(encoder=encoder), threads=cfg.threads)
        self.intents.understand("hello", self.intents.languages[0])  # compile/warm
        # the conversation's replies (greeting, responses, slot prompts, fallback) from the same file
        self.dialogue = load_dialogue(path)

    def load_turn_model(self) -> None:
        """smart-turn v3.2 (semantic end of turn for conversations) when it is installed in the
        cache (`tools/fetch_smart_turn.py`, run by `make`); else turns end on silence alone."""
        from ..engines.turn import SmartTurn, find_model

        path = find_model(self.config.cache_dir)
        if path is None:
            _LOGGER.info("smart-turn model not in %s: conversation turns end on silence alone", self.config.cache_dir)
            return
        self.turn = SmartTurn(path, threads=1)
        self.turn.predict(np.zeros(SAMPLE_RATE, np.float32))  # warm

    async def run_nlu(self, fn, *args):
        """Run an intent or turn-model step (``self.intents.understand``, ``self.turn.predict``)
        in their own thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._nlu_pool, fn, *args)

    def recognizer(self, name: str | None) -> WhisperRecognizer:
        """The loaded model ``name`` (None: the default), loading it on first use."""
        name = name or self.config.asr.model
        rec = self._recognizers.get(name)
        if rec is not None:
            return rec
        if name not in self.model_names and name != self.config.asr.model:
            if name == "small" and whisper_small_problem():
                raise KeyError(f"model 'small' is not available: {whisper_small_problem()}")
            raise KeyError(f"model {name!r} is unknown (known: {', '.join(self.model_names)})")
        with self._load_lock:
            if name not in self._recognizers:
                path = resolve_whisper_model(name, self.config.cache_dir, self.config.asr.models)
                self._recognizers[name] = WhisperRecognizer(name, path, self.device, self.config.asr)
            return self._recognizers[name]

    def _tts_cuda(self) -> bool:
        use_cuda = self.config.tts.use_cuda
        return self.device.device == "cuda" if use_cuda is None else use_cuda

    def kokoro_model(self) -> KokoroModel:
        """The one Kokoro model every Kokoro voice shares (joined and loaded on first use)."""
        with self._kokoro_lock:
            if self._kokoro is None:
                tts = self.config.tts
                path = resolve_kokoro_model(tts.kokoro_model, self.config.cache_dir)
                self._kokoro = KokoroModel(path, kokoro_vocab_path(path), use_cuda=self._tts_cuda(),
                                           size=tts.pool_size or default_pool_size(), threads=tts.threads_per_session)
            return self._kokoro

    def synthesizer(self, voice: VoiceInfo) -> VoicePool | KokoroPool:
        syn = self._synthesizers.get(voice.name)
        if syn is not None:
            return syn
        if voice.engine == KOKORO_ENGINE:
            model = self.kokoro_model()
            with self._load_lock:
                if voice.name not in self._synthesizers:
                    self._synthesizers[voice.name] = KokoroPool(voice, model)
                return self._synthesizers[voice.name]
        with self._load_lock:
            if voice.name not in self._synthesizers:
                use_cuda = self._tts_cuda()
                self._synthesizers[voice.name] = VoicePool(
                    voice, use_cuda=use_cuda, size=self.config.tts.pool_size or None,
                    threads=self.config.tts.threads_per_session)
            return self._synthesizers[voice.name]

    # -- inference --------------------------------------------------------------------
    def transcribe(self, audio: np.ndarray, options: DecodeOptions, model: str | None = None) -> Transcript:
        """Blocking decode (CLI, tests); asyncio code uses :meth:`transcribe_async`."""
        return self.recognizer(model).transcribe(audio, options)

    async def transcribe_async(self, audio: np.ndarray, options: DecodeOptions, model: str | None = None) -> Transcript:
        return await self.run_asr(self.transcribe, audio, options, model)

    async def run_asr(self, fn, *args):
        """Run a blocking recognition step on the decode scheduler, at final priority."""
        return await self.scheduler.submit(Priority.FINAL, None, fn, *args)

    async def run_tts(self, fn, *args):
        """Run a blocking TTS step (e.g. ``next`` on a synthesis iterator) in the TTS pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._tts_pool, fn, *args)

    def stats(self) -> dict:
        """Decode counters since start (for logs and benchmarks)."""
        sched = self.scheduler
        return {
            "finals_decoded": sched.completed[Priority.FINAL],
            "interims_decoded": sched.completed[Priority.INTERIM],
            "interims_dropped": sched.dropped_interims,
            "decodes_waiting": sched.waiting,
            "batches": sched.batches,
            "batched_decodes": sched.batched_jobs,
        }

    def close(self) -> None:
        """Stop the workers (running jobs finish first), then release the models."""
        self.scheduler.close()
        self._tts_pool.shutdown(wait=True, cancel_futures=True)
        self._nlu_pool.shutdown(wait=True, cancel_futures=True)
        self._recognizers.clear()
        self._synthesizers.clear()
        self._kokoro = None
