"""``voice serve``'s runner: every enabled door around one engine and one service."""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from voice.api.runner import Doors
from voice.testing.audiosocket_peer import Peer


def test_doors_serve_grpc_and_audiosocket_from_one_service(config, engine):
    cfg = config.replace("server", host="127.0.0.1", port=0, audiosocket="127.0.0.1:0")

    async def main():
        doors = Doors(cfg, engine)
        ports = await doors.start()
        await doors.grpc.wait_ready()
        assert set(ports) == {"grpc", "audiosocket"} and all(ports.values())
        peer = Peer(ports["audiosocket"])
        await peer.connect()
        await peer.start_call()
        first = await peer.voiced_after(0.0, timeout=20)  # the greeting, through the same service
        assert doors.service.admission.active("conversation") == 1
        await peer.hang_up()
        await peer.close()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['grpc']}") as channel:
            status = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert status.status == health_pb2.HealthCheckResponse.SERVING
        for _ in range(100):
            if not doors.service.admission.active("conversation"):
                break
            await asyncio.sleep(0.05)
        assert doors.service.admission.active("conversation") == 0
        await doors.stop()  # drains, stops the bridges, then gRPC; the engine is the fixture's
        assert not engine.scheduler._closed
        return first

    assert asyncio.run(main()) > 0
