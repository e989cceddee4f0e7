"""TLS and mutual TLS for every listener, with certificates reloaded without dropping calls.

One :class:`Certificates` per process reads the PEM files. gRPC gets dynamic credentials whose
fetcher hands grpc-core the new files after :meth:`Certificates.reload` (grpc asks before
every new handshake); the HTTP, metrics and AudioSocket listeners share
``ssl.SSLContext`` objects that :meth:`reload` loads the new chain into. Connections already
open keep the certificate they were made with; calls on them go on.
"""

from __future__ import annotations

import logging
import ssl
import threading
from pathlib import Path

import grpc

_LOGGER = logging.getLogger(__name__)


class Certificates:
    def __init__(self, cert: str, key: str, client_ca: str = ""):
        self.cert = Path(cert)
        self.key = Path(key)
        self.client_ca = Path(client_ca) if client_ca else None
        self._lock = threading.Lock()
        self._pem = self._read()
        self._grpc_pending = False
        self._contexts: list[tuple[ssl.SSLContext, bool]] = []
        self.reloads = 0

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None

    def _read(self) -> tuple[bytes, bytes, bytes | None]:
        cert, key = self.cert.read_bytes(), self.key.read_bytes()
        ca = self.client_ca.read_bytes() if self.client_ca is not None else None
        # the pair must load (a wrong key fails here, not at the first handshake)
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key)
        return cert, key, ca

    # -- gRPC ----------------------------------------------------------------------------
    def _grpc_config(self):
        cert, key, ca = self._pem
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(self._grpc_config(), self._fetch,
                                                   require_client_authentication=self.mutual)

    def _fetch(self):
        """grpc-core's question before a handshake: a new configuration, or None (unchanged)."""
        with self._lock:
            if not self._grpc_pending:
                return None
            self._grpc_pending = False
            return self._grpc_config()

    # -- ssl (aiohttp, asyncio servers) --------------------------------------------------
    def ssl_context(self, client_auth: bool = True) -> ssl.SSLContext:
        """A server context with the certificate; with ``client_auth`` and a client CA,
        clients must present a certificate it signed."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        mutual = client_auth and self.mutual
        self._load(ctx, mutual)
        with self._lock:
            self._contexts.append((ctx, mutual))
        return ctx

    def _load(self, ctx: ssl.SSLContext, mutual: bool) -> None:
        ctx.load_cert_chain(self.cert, self.key)
        if mutual:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=str(self.client_ca))

    def reload(self) -> bool:
        """Read the files again (SIGHUP). A broken new file is logged and the old certificate
        stays; returns whether the new one is in use."""
        try:
            pem = self._read()
        except (OSError, ssl.SSLError) as exc:
            _LOGGER.error("TLS reload failed, keeping the current certificate: %s", exc)
            return False
        with self._lock:
            self._pem = pem
            self._grpc_pending = True
            contexts = list(self._contexts)
        for ctx, mutual in contexts:
            self._load(ctx, mutual)
        self.reloads += 1
        _LOGGER.info("TLS certificate reloaded from %s", self.cert)
        return True
