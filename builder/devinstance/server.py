"""The loopback HTTP front of the dev instance: Fulcio v2 and Rekor v1, on 127.0.0.1 only.

Two routes, the two sigstore-python's signer calls:
``POST /api/v2/signingCert`` (Fulcio) and ``POST /api/v1/log/entries`` (Rekor).
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from builder.devinstance import fulcio, oidc
from builder.devinstance.errors import RequestRejected
from builder.devinstance.rekor import TransparencyLog

FULCIO_SIGNING_CERT = "/api/v2/signingCert"
REKOR_ENTRIES = "/api/v1/log/entries"
LOOPBACK = "127.0.0.1"
_MAX_BODY = 1 << 20  # far above any CSR or hashedrekord entry

_logger = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: DevHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive: requests' sessions reuse the connection
    # Headers and body leave in separate writes; without TCP_NODELAY, Nagle plus
    # delayed ACKs stall each exchange by tens of milliseconds.
    disable_nagle_algorithm = True
    timeout = 30  # an idle keep-alive connection must not pin a thread forever

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("%s " + format, self.address_string(), *args)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_json(self) -> object:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise RequestRejected("request body too large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        try:
            return json.loads(self.rfile.read(length))
        except ValueError as exc:
            raise RequestRejected(f"request body is not JSON: {exc}") from exc

    def do_POST(self) -> None:
        """Route a POST to the dev Fulcio or the dev Rekor; refusals become 4xx JSON."""
        try:
            if self.path == FULCIO_SIGNING_CERT:
                self._reply(HTTPStatus.CREATED, self.server.signing_cert(self))
            elif self.path == REKOR_ENTRIES:
                self._reply(HTTPStatus.CREATED, self.server.log.add(self._read_json()))
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"code": 404, "message": "no such endpoint"})
        except RequestRejected as exc:
            # Fulcio and Rekor both answer errors as {"code", "message"}.
            self._reply(exc.status, {"code": exc.status, "message": str(exc)})

    def do_GET(self) -> None:
        """Nothing is served by GET; sigstore's signer never asks."""
        self._reply(HTTPStatus.NOT_FOUND, {"code": 404, "message": "no such endpoint"})


class DevHTTPServer(ThreadingHTTPServer):
    """Serves one CA and one log on a free loopback port."""

    daemon_threads = True

    def __init__(self, ca: fulcio.CertificateAuthority, log: TransparencyLog) -> None:
        self.ca = ca
        self.log = log
        super().__init__((LOOPBACK, 0), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of both services, e.g. ``http://127.0.0.1:40123``."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def signing_cert(self, handler: _Handler) -> dict[str, object]:
        """Answer a Fulcio v2 signingCert request: leaf plus root, the leaf holding one SCT."""
        authorization = handler.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise RequestRejected("an Authorization: Bearer identity token is required", 401)
        claims = oidc.read_claims(token)
        leaf = self.ca.issue(fulcio.csr_from_request(handler._read_json()), claims)
        return fulcio.signing_cert_response([leaf, self.ca.cert])

    def start(self) -> None:
        """Serve in a daemon thread, so a forgotten instance never blocks interpreter exit."""
        # A short poll interval: stop() waits up to one interval for the loop to notice.
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="sealbook-dev-instance"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
