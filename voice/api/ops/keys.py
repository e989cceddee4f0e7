"""API keys and their quotas: pure policy, no protocol (the gRPC interceptor and the HTTP
middleware in this package apply it).

The keys file is TOML; a key is stored only as the SHA-256 hex digest of its secret, so the
file can be read by operators without leaking a key::

    [[keys]]
    name = "crm"                      # shown in logs and metrics instead of the key
    sha256 = "9f86d081884c7d65..."    # `voice keys hash SECRET`, or `voice keys add`
    services = ["asr", "tts"]         # of asr, tts, intents, conversation ("*" or absent: all)
    max_streams = 4                   # concurrent streams and calls (0 or absent: no limit)
    requests_per_minute = 120         # calls started in any 60 s (0: no limit)
    audio_minutes_per_day = 600       # audio received and synthesized per UTC day (0: no limit)

Errors: no key or an unknown one -> :class:`Unauthenticated`; a service the key may not use
-> :class:`PermissionDenied`; a limit -> :class:`~voice.core.errors.ResourceExhausted` with
``retry_after_s`` (when the oldest call of the minute leaves the window, at UTC midnight for
the audio budget). Secrets never appear in a message.
"""

from __future__ import annotations

import contextvars
import hashlib
import secrets
import threading
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ...core.errors import ResourceExhausted, ServiceError

SERVICES = ("asr", "tts", "intents", "conversation")
WINDOW_S = 60.0
DAY_S = 86400.0
SECRET_PREFIX = "vk_"


class Unauthenticated(ServiceError):
    """No API key, or one this server does not know."""


class PermissionDenied(ServiceError):
    """The key is valid but may not use this service."""


class KeyFileError(ValueError):
    """The keys file is malformed; the message names the entry and field."""


def hash_key(secret: str) -> str:
    """The form a key is stored in: SHA-256 of its UTF-8 bytes, lower-case hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A fresh random key (192 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(24)


def service_of(name: str) -> str | None:
    """Which quota service a gRPC method (``/pkg.Service/Method``) or HTTP path belongs to;
    None for what no key rule covers (health, reflection, pages)."""
    lowered = name.lower()
    for service, marks in _SERVICE_MARKS:
        if any(mark in lowered for mark in marks):
            return service
    return None


_SERVICE_MARKS = (
    ("conversation", ("conversation", "/converse", "realtime", "/twilio", "/media")),
    ("intents", ("understand", "intent", "nlu")),
    ("tts", ("synthes", "/tts", "/speech", "voices")),
    ("asr", ("recogni", "/asr", "transcri", "translation")),
)


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: str
    services: frozenset[str] = frozenset(SERVICES)
    max_streams: int = 0
    requests_per_minute: int = 0
    audio_minutes_per_day: float = 0.0


def parse_keys(text: str, source: str = "keys file") -> list[ApiKey]:
    """The keys of a keys file's TOML ``text`` (errors name ``keys[i].field``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeyFileError(f"{source} is not valid TOML: {exc}") from None
    unknown = set(data) - {"keys"}
    if unknown:
        raise KeyFileError(f"{source}: unknown table(s) {', '.join(sorted(unknown))} (use [[keys]])")
    keys: list[ApiKey] = []
    seen: set[str] = set()
    for i, entry in enumerate(data.get("keys", [])):
        where = f"{source}: keys[{i}]"
        extra = set(entry) - {"name", "sha256", "services", "max_streams", "requests_per_minute", "audio_minutes_per_day"}
        if extra:
            raise KeyFileError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        digest = str(entry.get("sha256", "")).lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise KeyFileError(f"{where}.sha256: must be 64 hex digits (voice keys hash SECRET)")
        if digest in seen:
            raise KeyFileError(f"{where}.sha256: the same key is listed twice")
        seen.add(digest)
        name = str(entry.get("name") or f"key{i}")
        services = entry.get("services", ["*"])
        if isinstance(services, str):
            services = [services]
        if "*" in services:
            services = list(SERVICES)
        wrong = [s for s in services if s not in SERVICES]
        if wrong:
            raise KeyFileError(f"{where}.services: unknown {', '.join(wrong)} (of {', '.join(SERVICES)}, or *)")
        limits = {}
        for limit in ("max_streams", "requests_per_minute", "audio_minutes_per_day"):
            value = entry.get(limit, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise KeyFileError(f"{where}.{limit}: must be a number >= 0, got {value!r}")
            limits[limit] = value
        keys.append(ApiKey(name, digest, frozenset(services), int(limits["max_streams"]),
                           int(limits["requests_per_minute"]), float(limits["audio_minutes_per_day"])))
    return keys


def load_keys(path: str | Path) -> list[ApiKey]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyFileError(f"cannot read keys file {path}: {exc.strerror}") from None
    return parse_keys(text, str(path))


def key_entry(name: str, secret: str, services: Iterable[str] = ("*",), max_streams: int = 0,
              requests_per_minute: int = 0, audio_minutes_per_day: float = 0) -> str:
    """One ``[[keys]]`` table for ``secret`` (hashed), as TOML text."""
    services = list(services)
    lines = ["[[keys]]", f"name = {_toml_str(name)}", f'sha256 = "{hash_key(secret)}"',
             "services = [" + ", ".join(_toml_str(s) for s in services) + "]"]
    if max_streams:
        lines.append(f"max_streams = {int(max_streams)}")
    if requests_per_minute:
        lines.append(f"requests_per_minute = {int(requests_per_minute)}")
    if audio_minutes_per_day:
        lines.append(f"audio_minutes_per_day = {audio_minutes_per_day:g}")
    return "\n".join(lines) + "\n"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class _Usage:
    streams: int = 0
    starts: deque = field(default_factory=deque)  # times of calls started in the last minute
    day: int = -1
    audio_s: float = 0.0


class Lease:
    """One admitted call of a key; :meth:`release` frees its stream slot (once). Audio the call
    moves is charged with :meth:`charge`; :attr:`exhausted` says the key's day is spent."""

    def __init__(self, policy: KeyPolicy, key: ApiKey, service: str | None, stream: bool):
        self.policy = policy
        self.key = key
        self.service = service
        self._stream = stream
        self._held = True

    def charge(self, seconds: float) -> None:
        self.policy._charge(self.key, seconds)

    @property
    def exhausted(self) -> bool:
        return self.policy._exhausted(self.key)

    def release(self) -> None:
        if self._held:
            self._held = False
            if self._stream:
                self.policy._release(self.key)


class KeyPolicy:
    """The keys and their running usage. Thread-safe; ``clock`` (seconds, wall time: days are
    UTC days) is injectable for tests."""

    def __init__(self, keys: Iterable[ApiKey], clock: Callable[[], float] = time.time):
        self._keys = {k.digest: k for k in keys}
        self._usage: dict[str, _Usage] = {d: _Usage() for d in self._keys}
        self._clock = clock
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> KeyPolicy:
        return cls(load_keys(path))

    def __len__(self) -> int:
        return len(self._keys)

    def authenticate(self, secret: str | None) -> ApiKey:
        if not secret:
            raise Unauthenticated("an API key is required (authorization: Bearer KEY, or x-api-key)")
        key = self._keys.get(hash_key(secret))
        if key is None:
            raise Unauthenticated("the API key is not valid")
        return key

    def admit(self, secret: str | None, service: str | None, stream: bool = False) -> Lease:
        """Authenticate and check every limit for one new call of ``service`` (None: a call no
        service rule covers); ``stream``: it holds a stream slot until released."""
        key = self.authenticate(secret)
        if service is not None and service not in key.services:
            raise PermissionDenied(f"key {key.name!r} may not use {service} (allowed: {', '.join(sorted(key.services))})")
        now = self._clock()
        with self._lock:
            usage = self._usage[key.digest]
            self._roll_day(usage, now)
            if key.audio_minutes_per_day and usage.audio_s >= key.audio_minutes_per_day * 60:
                raise ResourceExhausted(f"key {key.name!r} has used its {key.audio_minutes_per_day:g} audio minutes "
                                        "for today (UTC)", retry_after_s=DAY_S - now % DAY_S)
            starts = usage.starts
            while starts and starts[0] <= now - WINDOW_S:
                starts.popleft()
            if key.requests_per_minute and len(starts) >= key.requests_per_minute:
                raise ResourceExhausted(f"key {key.name!r} is at its limit of {key.requests_per_minute} requests "
                                        "per minute", retry_after_s=max(0.001, starts[0] + WINDOW_S - now))
            if stream and key.max_streams and usage.streams >= key.max_streams:
                raise ResourceExhausted(f"key {key.name!r} is at its limit of {key.max_streams} concurrent streams",
                                        retry_after_s=1.0)
            starts.append(now)
            if stream:
                usage.streams += 1
        return Lease(self, key, service, stream)

    def usage(self, name: str) -> dict:
        """A key's current usage by name (streams, requests in the last minute, audio today)."""
        now = self._clock()
        with self._lock:
            for digest, key in self._keys.items():
                if key.name == name:
                    usage = self._usage[digest]
                    self._roll_day(usage, now)
                    return {"streams": usage.streams,
                            "requests_last_minute": sum(1 for t in usage.starts if t > now - WINDOW_S),
                            "audio_s_today": usage.audio_s}
        raise KeyError(name)

    # -- leases ---------------------------------------------------------------------------
    @staticmethod
    def _roll_day(usage: _Usage, now: float) -> None:
        day = int(now // DAY_S)
        if usage.day != day:
            usage.day = day
            usage.audio_s = 0.0

    def _charge(self, key: ApiKey, seconds: float) -> None:
        with self._lock:
            usage = self._usage[key.digest]
            self._roll_day(usage, self._clock())
            usage.audio_s += seconds

    def _exhausted(self, key: ApiKey) -> bool:
        if not key.audio_minutes_per_day:
            return False
        with self._lock:
            usage = self._usage[key.digest]
            self._roll_day(usage, self._clock())
            return usage.audio_s >= key.audio_minutes_per_day * 60

    def _release(self, key: ApiKey) -> None:
        with self._lock:
            self._usage[key.digest].streams -= 1


def bearer(value: str | None) -> str | None:
    """The key in an ``Authorization`` value (``Bearer KEY``; a bare key is accepted too)."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip() or None
    return value.strip() if not rest else None


# the lease of the call running in this task (set by the door's guard); the telemetry charges
# the audio the call moves to it
LEASE: contextvars.ContextVar[Lease | None] = contextvars.ContextVar("lease", default=None)
