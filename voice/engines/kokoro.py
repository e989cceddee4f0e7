"""Kokoro-82M voices: one shared ONNX model, a 256-d style per voice pack, espeak-ng phonemes.

Kokoro is one acoustic model for every voice; a *voice pack* is a (510, 1, 256) float32 table
of style vectors, one row per input length. So :class:`KokoroModel` holds the ONNX sessions
(a :class:`~voice.engines.sessions.SessionPool` of up to ``size``, CUDA when onnxruntime has
it, the same pool Piper's ``VoicePool`` uses) for all Kokoro voices, and each voice is a
:class:`KokoroPool`: a :class:`voice.core.synthesis.Renderer` like Piper's ``VoicePool`` that
takes a model session per inference, and renders later pieces ahead on the others. Text becomes IPA through the
espeak-ng that piper ships (:func:`voice.engines.espeak.phonemes`, with ties), its
multi-letter phonemes as the single symbols Kokoro learnt (:func:`untie`), NFC-normalised, then
token ids from the model's vocabulary (characters the vocabulary lacks are decomposed, and
dropped if still unknown); ``tokens`` = ``[0, ids..., 0]`` int64, ``style`` =
``pack[min(len(ids), 509)]``, ``speed`` = the speaking rate; 24 kHz float32 out.

A pack speaks every language espeak-ng phonemises; in a language other than its own (the
first letter of upstream names: ``a``/``b`` English, ``e`` Spanish, ``f`` French, ``h``
Hindi, ``i`` Italian, ``j`` Japanese, ``p`` Brazilian Portuguese, ``z`` Chinese) it is
*accented*. The catalogue lists one voice per pack and language, ``kokoro-<pack>-<lang>``.

Pack files, in upstream Kokoro's published formats: ``.npz`` of packs (kokoro-onnx's
``voices-v1.0.bin`` is one), ``.npy``, a ``.pt`` from hexgrad/Kokoro-82M (read as a zip, never
unpickled: its one float32 storage), or a raw little-endian float32 ``.bin``
(onnx-community/Kokoro-82M-ONNX). An optional ``<file>.json`` beside a pack file may set
``{"language": "es"}`` (its native language) when the name does not say it.

onnxruntime is imported lazily. Blocking: callers run :meth:`KokoroPool.render` in a worker.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
import zipfile
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from ..core.languages import base_language, normalize_bcp47
from . import espeak
from .sessions import SessionPool, onnx_options, session_threads
from .voices import KOKORO_ENGINE, VoiceInfo

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 24000
PACK_ROWS = 510
STYLE_DIM = 256
PACK_VALUES = PACK_ROWS * STYLE_DIM
MAX_TOKENS = 500  # ids per inference (the model's context is 512 with the two pads)
PACK_SUFFIXES = (".npz", ".npy", ".pt", ".bin")
# upstream pack names: <language letter><f|m>_<name>
NATIVE_LANGUAGES = {"a": "en-US", "b": "en-GB", "e": "es", "f": "fr-FR", "h": "hi", "i": "it", "j": "ja",
                    "p": "pt-BR", "z": "zh"}
# languages a pack is offered in by default (besides its own), and their espeak-ng voices
DEFAULT_LANGUAGES = ("en-US", "es", "fr-FR", "it", "pt-BR", "de")
_ESPEAK_VOICES = {"en-us": "en-us", "en-gb": "en", "en": "en-us", "es": "es", "fr": "fr", "fr-fr": "fr",
                  "it": "it", "pt": "pt", "pt-pt": "pt", "pt-br": "pt-br", "de": "de", "hi": "hi"}
# languages espeak-ng cannot phonemise the way Kokoro was trained (misaki's own G2P)
_NOT_ESPEAK = {"ja", "zh"}
_FLAGS = re.compile(r"\([^)]+\)")  # espeak-ng's (lang) switches around foreign words
# espeak-ng writes a multi-letter phoneme with a tie between its letters; Kokoro learnt each as
# one symbol (misaki's EspeakG2P phonemised its non-English data so): affricates and diphthongs.
# Untied, "tʃ" would be read as t + ʃ and "aɪ" as two vowels.
TIE = "^"
TIED = (("a^ɪ", "I"), ("a^ʊ", "W"), ("d^z", "ʣ"), ("d^ʒ", "ʤ"), ("e^ɪ", "A"), ("o^ʊ", "O"), ("ə^ʊ", "Q"),
        ("s^s", "S"), ("t^s", "ʦ"), ("t^ʃ", "ʧ"), ("ɔ^ɪ", "Y"))
# espeak-ng's symbols as the nearest ones Kokoro says better in that language (by espeak voice),
# measured with bench/voices.py: Italian has no lax vowels, but espeak-ng writes its unstressed
# i/u as ɪ/ʊ, which Kokoro says the English way ("scusi" was heard "scuse"); its ʎ ("gli") was
# heard "di", as l + j it is heard "li"
NEAREST = {"it": (("ɪ", "i"), ("ʊ", "u"), ("ʎ", "lj"))}
# languages whose word-final stressed vowel is said long ("martedì", "può", "tre"): espeak-ng
# writes it short and the Japanese packs clip it, so that "martedì" ran into the next word;
# with ː it is heard (bench/voices.py, jf_nezumi it: 16.7 -> 14.8 %)
FINAL_STRESSED_LONG = {"it": "aeiouɛɔ"}
CALIBRATION = "This is a sentence at a normal speaking level, to set the output gain."


class PackError(ValueError):
    """A file is not a Kokoro voice pack; the message says why."""


# -- pack files ------------------------------------------------------------------------------
def _as_pack(array: np.ndarray, where: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 1 and array.size == PACK_VALUES:  # raw files and torch storages are flat
        array = array.reshape(PACK_ROWS, 1, STYLE_DIM)
    if array.dtype != np.float32:
        raise PackError(f"{where}: a Kokoro voice pack is float32, got {array.dtype}")
    if array.size != PACK_VALUES or array.shape[0] != PACK_ROWS or array.shape[-1] != STYLE_DIM:
        raise PackError(f"{where}: a Kokoro voice pack has shape ({PACK_ROWS}, 1, {STYLE_DIM}), got {array.shape}")
    pack = np.ascontiguousarray(array.reshape(PACK_ROWS, STYLE_DIM))
    if not np.all(np.isfinite(pack)):
        raise PackError(f"{where}: the voice pack holds NaN or infinite values")
    if not 0.01 < float(np.mean(np.abs(pack))) < 10:
        raise PackError(f"{where}: values out of any Kokoro pack's range (mean |x| {float(np.mean(np.abs(pack))):.3g})")
    return pack


def _torch_storage(path: Path) -> np.ndarray:
    """The one float32 storage of a ``torch.save``\\ d tensor, read from the zip (no unpickling)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
            storages = [n for n in names if re.search(r"(^|/)data/\d+$", n)]
            if not pickles or len(storages) != 1:
                raise PackError(f"{path}: not a single-tensor torch file (entries: {', '.join(names[:8])})")
            if b"FloatStorage" not in zf.read(pickles[0]):
                raise PackError(f"{path}: the tensor is not float32")
            data = zf.read(storages[0])
    except zipfile.BadZipFile:
        raise PackError(f"{path}: not a torch (.pt zip) file") from None
    if len(data) != PACK_VALUES * 4:
        raise PackError(f"{path}: the tensor has {len(data) // 4} values, a voice pack {PACK_VALUES}")
    return np.frombuffer(data, "<f4").copy()


def _kind(path: Path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\x93NUMPY"):
        return "npy"
    if magic.startswith(b"PK"):
        return "pt" if path.suffix == ".pt" else "npz"
    if path.suffix in (".npz", ".npy", ".pt"):
        raise PackError(f"{path}: not a {path.suffix} file")
    return "raw"


def read_packs(path: Path) -> dict[str, np.ndarray]:
    """Every voice pack in ``path``, by name, each (510, 256) float32; :class:`PackError` if none."""
    path = Path(path)
    if not path.is_file():
        raise PackError(f"{path}: no such file")
    kind = _kind(path)
    try:
        if kind == "npz":
            with np.load(path, allow_pickle=False) as npz:
                packs = {name: _as_pack(npz[name], f"{path}[{name}]") for name in npz.files}
            if not packs:
                raise PackError(f"{path}: the archive holds no voice pack")
            return packs
        if kind == "npy":
            return {_stem(path): _as_pack(np.load(path, allow_pickle=False), str(path))}
    except (ValueError, OSError) as exc:
        if isinstance(exc, PackError):
            raise
        raise PackError(f"{path}: unreadable ({exc})") from None
    if kind == "pt":
        return {_stem(path): _as_pack(_torch_storage(path), str(path))}
    size = path.stat().st_size
    if size != PACK_VALUES * 4:
        raise PackError(f"{path}: a raw voice pack is {PACK_VALUES * 4} bytes ({PACK_ROWS}x1x{STYLE_DIM} float32), "
                        f"got {size}")
    return {_stem(path): _as_pack(np.fromfile(path, "<f4"), str(path))}


def _stem(path: Path) -> str:
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def pack_names(path: Path) -> list[str]:
    """The pack names in a file, without reading the packs (an ``.npz`` lists its members)."""
    path = Path(path)
    if _kind(path) == "npz":
        with zipfile.ZipFile(path) as zf:
            return [n[:-4] if n.endswith(".npy") else n for n in zf.namelist()]
    return [_stem(path)]


def native_language(pack: str, sidecar: dict | None = None) -> str:
    """A pack's own language: ``language`` of its sidecar, else its name's first letter, else ""."""
    if sidecar and sidecar.get("language"):
        return normalize_bcp47(str(sidecar["language"]))
    if re.match(r"^[a-z][fm]_", pack):
        return NATIVE_LANGUAGES.get(pack[0], "")
    return ""


def espeak_voice_for(language: str) -> str:
    """The espeak-ng voice that phonemises ``language`` for Kokoro ("" when it cannot)."""
    code = normalize_bcp47(language).lower()
    if base_language(code) in _NOT_ESPEAK:
        return ""
    return _ESPEAK_VOICES.get(code) or _ESPEAK_VOICES.get(base_language(code), "")


def find_pack_files(entries: list[str] | tuple[str, ...]) -> list[Path]:
    """Pack files named by files or directories (searched recursively for .npz/.npy/.pt/.bin)."""
    found: list[Path] = []
    for entry in entries:
        path = Path(entry).expanduser()
        if path.is_dir():
            found += sorted(p for p in path.glob("**/*") if p.is_file() and p.suffix in PACK_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise PackError(f"Kokoro voice {entry!r} is neither a pack file nor a directory")
    return found


def kokoro_voices(files: list[Path], languages: tuple[str, ...] | list[str] = DEFAULT_LANGUAGES) -> list[VoiceInfo]:
    """One catalogue voice per pack and language: its own language (when espeak-ng speaks it)
    and every one of ``languages`` (accented where not its own). Reads names only."""
    voices: dict[str, VoiceInfo] = {}
    for path in files:
        sidecar = None
        side = Path(f"{path}.json")
        if side.is_file():
            try:
                sidecar = json.loads(side.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise PackError(f"{side}: not JSON ({exc})") from None
        for pack in pack_names(path):
            native = native_language(pack, sidecar)
            langs = [native] if native and espeak_voice_for(native) else []
            langs += [normalize_bcp47(lang) for lang in languages]
            for lang in dict.fromkeys(langs):
                voice = espeak_voice_for(lang)
                if not voice:
                    continue
                accented = not native or base_language(native) != base_language(lang)
                name = f"kokoro-{pack}-{lang}"
                voices.setdefault(name, VoiceInfo(
                    name=name, language=lang, sample_rate=SAMPLE_RATE, quality="kokoro", num_speakers=1,
                    model_path=None, engine=KOKORO_ENGINE, espeak_voice=voice, accented=accented,
                    pack=pack, pack_path=Path(path)))
    return list(voices.values())


# -- text -> token ids ---------------------------------------------------------------------
def load_vocab(path: Path) -> dict[str, int]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    vocab = data.get("vocab", data)
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError(f"{path}: no Kokoro vocabulary in it")
    return {str(k): int(v) for k, v in vocab.items()}


def to_ids(phonemes: str, vocab: dict[str, int]) -> list[int]:
    """IPA -> token ids: NFC first (the vocabulary has ``ç``), a character it lacks is tried
    decomposed (``õ`` -> ``o`` + combining tilde), anything still unknown is dropped."""
    ids: list[int] = []
    for ch in unicodedata.normalize("NFC", phonemes):
        idx = vocab.get(ch)
        if idx is not None:
            ids.append(idx)
            continue
        for part in unicodedata.normalize("NFD", ch):
            idx = vocab.get(part)
            if idx is not None:
                ids.append(idx)
    return ids


def untie(phonemes: str, espeak_voice: str = "") -> str:
    """espeak-ng's tied IPA (``t^ʃ``) -> Kokoro's symbols (``ʧ``), other ties dropped; then
    the voice's language's :data:`NEAREST` symbols."""
    for tied, symbol in TIED:
        phonemes = phonemes.replace(tied, symbol)
    language = base_language(espeak_voice)
    for symbol, nearest in NEAREST.get(language, ()):
        phonemes = phonemes.replace(symbol, nearest)
    if language in FINAL_STRESSED_LONG:
        phonemes = lengthen_final_stress(phonemes, FINAL_STRESSED_LONG[language])
    return phonemes.replace(TIE, "")


def lengthen_final_stress(phonemes: str, vowels: str) -> str:
    """A word whose primary stress falls on its last vowel, that vowel long (``maɾtedˈi`` ->
    ``maɾtedˈiː``); words stressed earlier, and vowels already long, are left alone."""
    pattern = rf"ˈ([^\sˈ{vowels}]*)([{vowels}])(?=[\s,.;:?!]|$)"
    return re.sub(pattern, r"ˈ\1\2ː", phonemes)


def clauses(espeak_voice: str, text: str) -> list[str]:
    """The IPA of each clause of ``text`` (Kokoro's symbols, :func:`untie`), with its
    punctuation (Kokoro uses it for prosody)."""
    out = []
    for ph, terminator, _end in espeak.phonemes(espeak_voice, text, tie=TIE):
        ph = untie(_FLAGS.sub("", ph), espeak_voice).strip()
        if ph:
            out.append(ph + terminator)
    return out


def batches(clause_ids: list[list[int]], space: int | None, limit: int = MAX_TOKENS) -> list[list[int]]:
    """Clauses joined (with a space id) into inputs of at most ``limit`` ids; a longer clause is
    cut at its last space before the limit."""
    out: list[list[int]] = []
    cur: list[int] = []
    for ids in clause_ids:
        while len(ids) > limit:
            cut = max((i for i, t in enumerate(ids[:limit]) if t == space), default=limit) or limit
            if cur:
                out.append(cur)
                cur = []
            out.append(ids[:cut])
            ids = ids[cut + (1 if cut < len(ids) and ids[cut] == space else 0):]
        joined = cur + ([space] if cur and space is not None else []) + ids
        if len(joined) > limit:
            out.append(cur)
            cur = list(ids)
        else:
            cur = joined
    if cur:
        out.append(cur)
    return [b for b in out if b]


def trim(audio: np.ndarray, threshold: float = 0.01, pad: int = int(0.02 * SAMPLE_RATE)) -> np.ndarray:
    """Drop the near-silence Kokoro leaves at both ends (the planner sets the pauses)."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if not loud.size:
        return audio[:0]
    return audio[max(0, loud[0] - pad): loud[-1] + pad]


# -- the model -----------------------------------------------------------------------------
def providers(use_cuda: bool, available: list[str]) -> list:
    """onnxruntime execution providers: CUDA first when asked for and present, CPU always."""
    out: list = ["CPUExecutionProvider"]
    if use_cuda and "CUDAExecutionProvider" in available:
        out.insert(0, ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
    return out


class KokoroModel:
    """The Kokoro ONNX model for every Kokoro voice: up to ``size`` sessions, made on demand.

    Packs are read once per file and kept; each pack's output level is calibrated once (its
    raw peak on a reference sentence), like Piper voices, so clauses are scaled alike.
    """

    def __init__(self, model_path: Path, vocab_path: Path, use_cuda: bool = False, size: int = 2,
                 threads: int = 0):
        self.model_path = Path(model_path)
        self.vocab = load_vocab(vocab_path)
        self.space = self.vocab.get(" ")
        self.use_cuda = use_cuda
        self.size = max(1, size)
        self.threads = session_threads(threads, self.size)
        self._packs: dict[tuple[Path, str], np.ndarray] = {}
        self._gains: dict[tuple[Path, str], float] = {}
        self._packs_lock = threading.Lock()
        session = self._open()  # one now: fail early, learn the input names
        self.providers = session.get_providers()
        if use_cuda and "CUDAExecutionProvider" not in self.providers:
            _LOGGER.warning("CUDA asked for but onnxruntime has no CUDAExecutionProvider; Kokoro runs on CPU")
        names = {i.name: i for i in session.get_inputs()}
        self._tokens = next((n for n in ("tokens", "input_ids") if n in names), "")
        self._style = next((n for n in ("style", "ref_s") if n in names), "")
        if not self._tokens or not self._style or "speed" not in names:
            raise ValueError(f"{model_path} is not a Kokoro model (inputs {', '.join(names)}; "
                             "expected tokens|input_ids, style|ref_s and speed)")
        self._speed_dtype = np.int32 if "int" in names["speed"].type else np.float32
        self.sessions = SessionPool(self._open, self.size, first=session, name="kokoro")
        _LOGGER.info("Kokoro model %s ready (pool of %d x %d threads, providers %s)", self.model_path.name, self.size,
                     self.threads, ",".join(map(str, self.providers)))

    def _open(self):
        import onnxruntime

        return onnxruntime.InferenceSession(str(self.model_path), sess_options=onnx_options(self.threads),
                                            providers=providers(self.use_cuda, onnxruntime.get_available_providers()))

    @property
    def created(self) -> int:
        return self.sessions.created

    def pack(self, info: VoiceInfo) -> np.ndarray:
        key = (Path(info.pack_path), info.pack)
        with self._packs_lock:
            if key not in self._packs:
                packs = read_packs(key[0])
                if info.pack not in packs:
                    raise PackError(f"{key[0]} has no voice pack {info.pack!r} ({', '.join(packs)})")
                for name, array in packs.items():
                    self._packs[(key[0], name)] = array
            return self._packs[key]

    def infer(self, ids: list[int], style: np.ndarray, speed: float, *, urgent: bool = True) -> np.ndarray:
        """One input (at most :data:`MAX_TOKENS` ids) -> float32 audio at 24 kHz (blocking)."""
        feeds = {
            self._tokens: np.array([[0, *ids, 0]], dtype=np.int64),
            self._style: np.ascontiguousarray(style[min(len(ids), PACK_ROWS - 1)].reshape(1, STYLE_DIM)),
            "speed": np.array([speed], dtype=self._speed_dtype),
        }
        with self.sessions.session(urgent=urgent) as sess:
            audio = sess.run(None, feeds)[0]
        return np.asarray(audio, np.float32).ravel()

    def synthesize(self, info: VoiceInfo, text: str, rate: float = 1.0, *, urgent: bool = True) -> np.ndarray:
        """``text`` spoken by ``info`` (its pack, its language's phonemes), not level-calibrated;
        ``urgent=False``: synthesized ahead (yields its turn for a session to urgent inferences)."""
        style = self.pack(info)
        ids = [to_ids(c, self.vocab) for c in clauses(info.espeak_voice, text)]
        speed = float(min(4.0, max(0.25, rate)))
        parts = [trim(self.infer(b, style, speed, urgent=urgent)) for b in batches([i for i in ids if i], self.space)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def gain(self, info: VoiceInfo) -> float:
        """The pack's level factor (peak 0.8 on a reference sentence), measured once per pack."""
        key = (Path(info.pack_path), info.pack)
        with self._packs_lock:
            if key in self._gains:
                return self._gains[key]
        ref = VoiceInfo(name="calibration", language="en-US", sample_rate=SAMPLE_RATE, quality="", num_speakers=1,
                        model_path=None, engine=KOKORO_ENGINE, espeak_voice="en-us", pack=info.pack,
                        pack_path=info.pack_path)
        peak = float(np.max(np.abs(self.synthesize(ref, CALIBRATION)), initial=0.0)) or 1.0
        with self._packs_lock:
            return self._gains.setdefault(key, min(8.0, 0.8 / peak))


class KokoroPool:
    """One Kokoro voice (pack + language) as a renderer: takes a model session per piece.

    Concurrency is the shared model's (``model.size`` sessions for all Kokoro voices).
    """

    def __init__(self, info: VoiceInfo, model: KokoroModel):
        if info.engine != KOKORO_ENGINE:
            raise ValueError(f"{info.name} is not a Kokoro voice")
        self.info = info
        self.model = model
        self.size = model.size
        self.rendered = 0
        self._in_use = 0
        self._lock = threading.Lock()
        model.pack(info)  # a missing or broken pack fails here, at load
        self.gain = model.gain(info)
        self.providers = model.providers
        _LOGGER.info("Voice %s ready (kokoro pack %s, %s, gain %.2f)", info.name, info.pack, info.label, self.gain)

    @property
    def in_use(self) -> int:
        """Pieces being synthesized right now with this voice."""
        return self._in_use

    @property
    def created(self) -> int:
        return self.model.created

    def render(self, text: str, rate: float = 1.0, speaker_id: int | None = None,
               deterministic: bool = False, *, urgent: bool = True) -> np.ndarray:
        """One piece of text -> float32 audio at 24 kHz, level-calibrated (blocking).

        Kokoro samples no noise: every synthesis is deterministic; ``speaker_id`` has no use
        (one speaker a pack). ``urgent=False``: a piece synthesized ahead."""
        with self._lock:
            self._in_use += 1
        try:
            audio = self.model.synthesize(self.info, text, rate, urgent=urgent)
        finally:
            with self._lock:
                self._in_use -= 1
                self.rendered += 1
        return audio * np.float32(self.gain) if self.gain != 1.0 else audio

    def prefetch(self, text: str, rate: float = 1.0, speaker_id: int | None = None,
                 deterministic: bool = False) -> Future:
        """:meth:`render` a later piece in the background (not urgent), on the model's pool; its future."""
        return self.model.sessions.submit(self.render, text, rate, speaker_id, deterministic, urgent=False)
