"""The page at ``GET /`` in real headless Chromium (Debian's ``chromium``), its microphone a
recorded WAV (Chromium's fake capture device playing Debian prompts in a loop), driven over the
DevTools protocol: the transcript appears on the page with its language, a typed reply is
spoken back, the looped speech talks over it and barges in (the page truncates the reply), and
the latency table fills. A screenshot is kept (``VOICE_BROWSER_SCREENSHOT=docs/browser.png``
writes the one in the docs)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import aiohttp
import numpy as np
import soundfile as sf
import soxr

from voice.api.http import HttpServer
from voice.service import VoiceService
from voice.testing.prompts import load_prompts, wer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EN = load_prompts("en")
QUESTION = EN["queue-callswaiting"]  # "Waiting to speak with a representative"
SECOND = EN["vm-reachoper"]  # "press 0 to reach an operator"
REPLY = ("Thank you for waiting. A representative will be with you shortly. In the meantime you can check your "
         "balance on our website, order a new card, or change your address. Please stay on the line, and have "
         "your card number ready.")
CAPTURE_RATE = 48000
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         "--autoplay-policy=no-user-gesture-required", "--window-size=1000,800", "--hide-scrollbars",
         "--remote-debugging-port=0"]
START_S = 30  # Chromium up, page loaded
STEP_S = 60  # each thing the page must show


def microphone_wav(path: Path) -> None:
    """The fake microphone: question, a pause (for the reply), another prompt; Chromium loops it."""
    def speech(prompt):
        data, rate = sf.read(prompt.path, dtype="float32")
        return soxr.resample(data, rate, CAPTURE_RATE)

    def pause(seconds):
        return np.zeros(int(seconds * CAPTURE_RATE), np.float32)

    audio = np.concatenate([pause(0.5), speech(QUESTION), pause(4.0), speech(SECOND), pause(1.5)])
    sf.write(path, audio, CAPTURE_RATE, subtype="PCM_16")


class DevTools:
    """One page's DevTools session over its WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self._id = 0
        self._calls: dict[int, asyncio.Future] = {}
        self.console: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            message = json.loads(msg.data)
            if "id" in message and message["id"] in self._calls:
                self._calls.pop(message["id"]).set_result(message)
            elif message.get("method") == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                             for a in message["params"]["args"]))
            elif message.get("method") == "Runtime.exceptionThrown":
                self.console.append("exception: " + json.dumps(message["params"]["exceptionDetails"])[:500])

    async def call(self, method: str, **params) -> dict:
        self._id += 1
        future = asyncio.get_running_loop().create_future()
        self._calls[self._id] = future
        await self.ws.send_json({"id": self._id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 30)
        assert "error" not in reply, (method, reply["error"])
        return reply["result"]

    async def eval(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    async def until(self, expression: str, timeout_s: float = STEP_S):
        """Poll ``expression`` in the page until it is truthy; its value."""
        began = time.monotonic()
        while not (value := await self.eval(expression)):
            assert time.monotonic() - began < timeout_s, (f"page never showed {expression!r}; status "
                                                         f"{await self.eval('document.body.dataset.status')!r}; "
                                                         f"console: {self.console[-10:]}")
            await asyncio.sleep(0.1)
        return value


@contextlib.asynccontextmanager
async def chromium(url: str, profile: Path, wav: Path):
    """Headless Chromium on ``url``; yields the page's DevTools session."""
    process = await asyncio.create_subprocess_exec(
        CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--use-file-for-fake-audio-capture={wav}", url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        began = time.monotonic()
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.returncode is None, f"chromium exited with {process.returncode}"
            assert time.monotonic() - began < START_S, "chromium did not open its DevTools port"
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as http:
            while True:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as reply:
                    pages = [p for p in await reply.json() if p["type"] == "page" and p["url"].startswith(url)]
                if pages:
                    break
                assert time.monotonic() - began < START_S, "the page never opened"
                await asyncio.sleep(0.1)
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024) as ws:
                tools = DevTools(ws)
                await tools.call("Runtime.enable")
                await tools.until("document.readyState === 'complete' && !!document.getElementById('start')",
                                  START_S)
                yield tools
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def test_page_transcribes_the_microphone_speaks_a_reply_and_barges_in(engine, tmp_path):
    wav = tmp_path / "microphone.wav"
    microphone_wav(wav)

    async def main():
        service = VoiceService(engine)
        server = HttpServer(service, "127.0.0.1", 0)
        port = await server.start()
        try:
            async with chromium(f"http://127.0.0.1:{port}/", tmp_path / "profile", wav) as page:
                await page.eval("document.getElementById('start').click()")
                first = await page.until("window.voiceStats.finals.find(f => /represent/i.test(f.text))")
                shown = await page.eval("[...document.querySelectorAll('#turns .turn.final .text')]"
                                        ".map(e => e.textContent)")
                badge = await page.eval("document.querySelector('#turns .turn.final .lang').textContent")
                interims = await page.eval("window.voiceStats.interims")
                await page.eval(f"document.getElementById('reply-text').value = {json.dumps(REPLY)}; "
                                "document.getElementById('speak').click()")
                reply = await page.until("window.voiceStats.replies[0]")
                barge = await page.until("window.voiceStats.bargeIns[0]")
                cut = await page.until("document.querySelector('#turns .turn.assistant.cut .text')?.textContent")
                await page.until("window.voiceStats.finals.length >= 2")
                latency = await page.eval("[...document.querySelectorAll('#latency tr')].map(r => "
                                          "[...r.cells].map(c => c.textContent))")
                errors = await page.eval("window.voiceStats.errors")
                height = await page.eval("document.documentElement.scrollHeight")
                shot = await page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                       clip={"x": 0, "y": 0, "width": 1000, "height": height, "scale": 1})
                await page.eval("document.getElementById('stop').click()")
            began = time.monotonic()
            while service.admission.active("conversation"):  # the page's call is freed when it closes
                assert time.monotonic() - began < 15, "the page's conversation was not freed"
                await asyncio.sleep(0.05)
        finally:
            await server.stop()
            await service.close()
        return first, shown, badge, interims, reply, barge, cut, latency, errors, shot, page.console

    first, shown, badge, interims, reply, barge, cut, latency, errors, shot, console = asyncio.run(main())
    png = base64.b64decode(shot["data"])
    (tmp_path / "browser.png").write_bytes(png)
    if os.environ.get("VOICE_BROWSER_SCREENSHOT"):
        Path(os.environ["VOICE_BROWSER_SCREENSHOT"]).write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # the transcript is on the page, with its language
    assert wer([QUESTION.text], [first["text"]]) <= 0.25, first
    assert any(wer([QUESTION.text], [text]) <= 0.25 for text in shown), shown
    assert first["language"] == "en" and badge == "en"
    # the reply played; the looped speech talked over it: barge-in, and the page cut the reply
    assert reply["firstAudioMs"] > 0
    assert barge["playedMs"] > 0 and barge["serverPlayedMs"] > 0
    words = [w.strip(".,").lower() for w in cut.split()]
    assert words and words == [w.strip(".,").lower() for w in REPLY.split()][:len(words)], cut
    assert len(words) < len(REPLY.split())
    # a latency row per turn, the first with its reply and barge-in
    assert len(latency) >= 2 and all(row[2].endswith(" ms") for row in latency)
    assert any(row[4].endswith(" ms") and row[5].startswith("after ") for row in latency), latency
    assert not errors, errors
    print(f"\nbrowser: final {first['text']!r} ({first['language']}) {first['afterMs']:.0f} ms after the end of "
          f"speech ({interims} interim updates); reply audio {reply['firstAudioMs']:.0f} ms after the request; "
          f"barge-in after {barge['playedMs']} ms played, reply cut to {cut!r}; console: {console[-5:]}")
