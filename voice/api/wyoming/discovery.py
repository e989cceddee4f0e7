"""Zeroconf (mDNS) advertising of the Wyoming door, as Home Assistant discovers Wyoming
services: a ``_wyoming._tcp.local.`` service pointing at the door's address and port.

Best effort: a machine without a usable multicast interface logs one warning and the door
serves on regardless (Home Assistant can always be given the address by hand).
"""

from __future__ import annotations

import logging
import re
import socket

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
MDNS_GROUP = "224.0.0.251"
MAX_NAME_BYTES = 63  # a DNS label


def instance_name(name: str = "") -> str:
    """The advertised instance name: ``name`` or ``voice-service-<host name>``, cut to one DNS
    label, dots replaced (they would split it)."""
    raw = name or f"voice-service-{socket.gethostname()}"
    clean = re.sub(r"[.\s]+", "-", raw).strip("-") or "voice-service"
    return clean.encode()[:MAX_NAME_BYTES].decode(errors="ignore")


def local_address(host: str = "") -> str:
    """The IPv4 address to advertise: ``host`` when it is one address, else the address of the
    interface that routes to the mDNS group (no packet is sent)."""
    if host and host not in ("0.0.0.0", "::", "localhost"):
        return socket.gethostbyname(host)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((MDNS_GROUP, 1))
        return probe.getsockname()[0]


def service_info(name: str, port: int, address: str):
    """The zeroconf record Home Assistant's discovery looks for."""
    from zeroconf.asyncio import AsyncServiceInfo

    return AsyncServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", addresses=[socket.inet_aton(address)],
                            port=port, server=f"{name}.local.")


class Advertiser:
    """``await start()`` registers the service, ``await stop()`` withdraws it."""

    def __init__(self, port: int, name: str = "", host: str = ""):
        self.name = instance_name(name)
        self.port = port
        self.host = host
        self.address = ""
        self._zeroconf = None
        self._info = None

    async def start(self) -> bool:
        """Register; False (with a warning) when this machine cannot advertise."""
        try:
            from zeroconf import IPVersion
            from zeroconf.asyncio import AsyncZeroconf

            self.address = local_address(self.host)
            self._info = service_info(self.name, self.port, self.address)
            self._zeroconf = AsyncZeroconf(interfaces=[self.address], ip_version=IPVersion.V4Only)
            # another server with this name on the network: take "name (2)" rather than fail
            await self._zeroconf.async_register_service(self._info, allow_name_change=True)
        except Exception as exc:  # noqa: BLE001 - no multicast here: serve without discovery
            _LOGGER.warning("Zeroconf: cannot advertise the Wyoming server (%s: %s); add it in Home Assistant "
                            "by address instead", type(exc).__name__, exc)
            await self.stop()
            return False
        _LOGGER.info("Zeroconf: advertising %s at %s:%d", self._info.name, self.address, self.port)
        return True

    async def stop(self) -> None:
        zc, self._zeroconf = self._zeroconf, None
        if zc is None:
            return
        try:
            if self._info is not None:
                await zc.async_unregister_service(self._info)
        except Exception as exc:  # noqa: BLE001 - withdrawing is best effort too
            _LOGGER.debug("Zeroconf: unregister failed: %s", exc)
        finally:
            await zc.async_close()
