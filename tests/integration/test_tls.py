"""TLS and mutual TLS on every listener (gRPC, HTTP/WebSocket, metrics, AudioSocket) with
self-signed certificates made here (openssl), and a certificate reload on SIGHUP that keeps
a stream in progress going."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import struct
import uuid

import aiohttp
import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from voice_api.v1 import recognizer_pb2_grpc, synthesizer_pb2, synthesizer_pb2_grpc

from voice.core.telemetry import NO_TELEMETRY
from voice.testing.ops import DoorsThread, ServeProcess, make_certs
from voice.testing.prompts import SOUNDS
from voice.testing.streams import audio_requests, config_request, finals, silence

PROMPT = SOUNDS / "en" / "queue-callswaiting.wav"
LOCAL = (("grpc.use_local_subchannel_pool", 1),)  # a new channel makes a new connection (handshake)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


def tls_doors(config, engine, certs, mutual: bool) -> DoorsThread:
    cfg = (config.replace("server", host="127.0.0.1", port=0, audiosocket="127.0.0.1:0")
           .replace("security", tls_cert=str(certs.server_cert), tls_key=str(certs.server_key),
                    tls_client_ca=str(certs.ca) if mutual else ""))
    return DoorsThread(cfg, engine, http=True)


@pytest.fixture(scope="module")
def tls(config, engine, certs):
    running = tls_doors(config, engine, certs, mutual=False)
    yield running
    running.stop()
    engine.set_telemetry(NO_TELEMETRY)


@pytest.fixture(scope="module")
def mtls(config, engine, certs):
    running = tls_doors(config, engine, certs, mutual=True)
    yield running
    running.stop()
    engine.set_telemetry(NO_TELEMETRY)


def grpc_health(port: int, root=None, cert=None, key=None, insecure=False) -> int:
    target = f"127.0.0.1:{port}"
    if insecure:
        channel = grpc.insecure_channel(target, options=LOCAL)
    else:
        creds = grpc.ssl_channel_credentials(root_certificates=root.read_bytes(),
                                             private_key=key.read_bytes() if key else None,
                                             certificate_chain=cert.read_bytes() if cert else None)
        channel = grpc.secure_channel(target, creds, options=LOCAL)
    with channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def client_context(root, cert=None, key=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(root))
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    return ctx


async def https_status(url: str, ctx) -> int:
    async with aiohttp.ClientSession() as session, session.get(url, ssl=ctx) as response:
        return response.status


async def audiosocket_hello(port: int, ctx) -> int:
    """A TLS AudioSocket call: UUID, 1 s of silence; returns the kind of the first frame back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="localhost")
    try:
        writer.write(struct.pack(">BH", 0x01, 16) + uuid.uuid4().bytes)
        for _ in range(50):
            writer.write(struct.pack(">BH", 0x10, 320) + bytes(320))
        await writer.drain()
        kind, length = struct.unpack(">BH", await asyncio.wait_for(reader.readexactly(3), 30))
        await reader.readexactly(length)
        writer.write(struct.pack(">BH", 0x00, 0))
        await writer.drain()
        return kind
    finally:
        writer.close()


def test_tls_on_every_listener(tls, certs):
    serving = health_pb2.HealthCheckResponse.SERVING
    assert grpc_health(tls.ports["grpc"], certs.ca) == serving
    with pytest.raises(grpc.RpcError) as info:
        grpc_health(tls.ports["grpc"], insecure=True)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(grpc.RpcError):  # a CA that did not sign the server's certificate
        grpc_health(tls.ports["grpc"], certs.other_ca)
    ctx = client_context(certs.ca)
    assert asyncio.run(https_status(f"https://localhost:{tls.ports['http']}/health", ctx)) == 200
    assert asyncio.run(https_status(f"https://127.0.0.1:{tls.ports['metrics']}/metrics", ctx)) == 200
    with pytest.raises(aiohttp.ClientError):
        asyncio.run(https_status(f"http://127.0.0.1:{tls.ports['http']}/health", None))
    assert asyncio.run(audiosocket_hello(tls.ports["audiosocket"], ctx)) == 0x10  # the greeting's audio

    async def websocket():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"wss://localhost:{tls.ports['http']}/twilio/media", ssl=ctx)
            await ws.close()
    asyncio.run(websocket())


def test_mutual_tls_refuses_clients_without_a_certificate_of_the_ca(mtls, certs):
    serving = health_pb2.HealthCheckResponse.SERVING
    port = mtls.ports["grpc"]
    assert grpc_health(port, certs.ca, certs.client_cert, certs.client_key) == serving
    for cert, key in ((None, None), (certs.other_cert, certs.other_key)):
        with pytest.raises(grpc.RpcError) as info:
            grpc_health(port, certs.ca, cert, key)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    good = client_context(certs.ca, certs.client_cert, certs.client_key)
    assert asyncio.run(https_status(f"https://localhost:{mtls.ports['http']}/health", good)) == 200
    assert asyncio.run(audiosocket_hello(mtls.ports["audiosocket"], good)) == 0x10
    for ctx in (client_context(certs.ca), client_context(certs.ca, certs.other_cert, certs.other_key)):
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            asyncio.run(https_status(f"https://localhost:{mtls.ports['http']}/health", ctx))
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            asyncio.run(audiosocket_hello(mtls.ports["audiosocket"], ctx))
    # scrapers hold no client certificate: the metrics port asks for none
    assert asyncio.run(https_status(f"https://127.0.0.1:{mtls.ports['metrics']}/metrics", client_context(certs.ca))) == 200


def test_sighup_reloads_the_certificate_and_keeps_a_stream_going(tmp_path, certs):
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(certs.server_cert, live / "cert.pem")
    shutil.copy(certs.server_key, live / "key.pem")
    renewed = make_certs(tmp_path / "renewed")  # a new CA and server certificate
    server = ServeProcess(["--tls-cert", str(live / "cert.pem"), "--tls-key", str(live / "key.pem")]).start()
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=certs.ca.read_bytes())
        pcm = np.concatenate([silence(0.3), sf.read(PROMPT, dtype="int16")[0], silence(1.0)])
        reloaded = []

        def requests():
            yield config_request("en")
            for i, request in enumerate(audio_requests(pcm, pace=1.0)):
                if i == 10:  # 1 s into the stream: new files, SIGHUP
                    shutil.copy(renewed.server_cert, live / "cert.pem")
                    shutil.copy(renewed.server_key, live / "key.pem")
                    server.proc.send_signal(1)
                    reloaded.append(server.wait_for("TLS certificate reloaded", 10))
                yield request

        with grpc.secure_channel(server.address, creds, options=LOCAL) as channel:
            results = finals(recognizer_pb2_grpc.RecognizerStub(channel).StreamingRecognize(requests()))
        assert reloaded and results and "representative" in results[0].alternatives[0].transcript.lower()
        serving = health_pb2.HealthCheckResponse.SERVING
        assert grpc_health(server.ports["grpc"], renewed.ca) == serving  # new connections: the new certificate
        with pytest.raises(grpc.RpcError):
            grpc_health(server.ports["grpc"], certs.ca)
        with grpc.secure_channel(server.address, grpc.ssl_channel_credentials(renewed.ca.read_bytes()),
                                 options=LOCAL) as channel:
            voices = synthesizer_pb2_grpc.SynthesizerStub(channel).ListVoices(synthesizer_pb2.ListVoicesRequest())
        assert voices.voices
        server.terminate()
        assert server.wait(30) == 0
    finally:
        server.close()
