"""``sealbook preview --serve``: the preview on 127.0.0.1, rebuilt on save, pages reloaded.

Three parts, each small:

1. a watcher thread polls the runbooks folder (names, sizes, mtimes; hidden entries skipped)
   and calls ``rebuild`` when anything changed, then bumps the generation;
2. an HTTP server bound to 127.0.0.1 only serves the published preview folder (following its
   symlink on every request, so a rebuild is seen at once), with ``Cache-Control: no-store``;
3. every HTML page it serves gets one ``<script src="/__sealbook/reload.js">`` (allowed by the
   site's CSP: ``script-src 'self'``, ``connect-src 'self'``) that polls
   ``/__sealbook/generation`` and reloads the page when it changes.

Nothing is written outside the output folder; SIGINT stops the watcher and the server.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.2
RELOAD_JS = b"""(function () {
  var seen = null;
  function poll() {
    fetch("/__sealbook/generation", {cache: "no-store"})
      .then(function (r) { return r.text(); })
      .then(function (g) { if (seen === null) { seen = g; } else if (g !== seen) { location.reload(); } })
      .catch(function () {})
      .finally(function () { setTimeout(poll, 250); });
  }
  poll();
})();
"""
_INJECT = b'<script src="/__sealbook/reload.js"></script>'


def snapshot(root: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime_ns) of every file under ``root``, hidden entries skipped."""
    found: list[tuple[str, int, int]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            try:
                info = path.stat()
            except OSError:
                continue
            found.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(found)


class Watcher(threading.Thread):
    """Calls ``rebuild`` whenever the files under ``root`` change; counts the builds."""

    def __init__(self, root: Path, rebuild: Callable[[], None]) -> None:
        super().__init__(name="sealbook-watch", daemon=True)
        self.root = root
        self.rebuild = rebuild
        self.generation = 1
        self.stopped = threading.Event()
        self._last = snapshot(root)

    def run(self) -> None:
        while not self.stopped.wait(POLL_SECONDS):
            current = snapshot(self.root)
            if current != self._last:
                self._last = current
                self.rebuild()
                self.generation += 1


def make_handler(out: Path, watcher: Watcher) -> type[http.server.SimpleHTTPRequestHandler]:
    """A request handler serving ``out`` with the reload hooks."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(out), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass  # the terminal is for problems, not requests

        def end_headers(self) -> None:
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            if path == "/__sealbook/generation":
                self._send(str(watcher.generation).encode(), "text/plain")
                return
            if path == "/__sealbook/reload.js":
                self._send(RELOAD_JS, "text/javascript")
                return
            local = Path(self.translate_path(path))
            if local.is_dir():
                local = local / "index.html"
            if local.suffix == ".html" and local.is_file():
                try:
                    body = local.read_bytes()
                except OSError:
                    self.send_error(404)
                    return
                marker = body.rfind(b"</body>")
                if marker >= 0:
                    body = body[:marker] + _INJECT + body[marker:]
                self._send(body, "text/html; charset=utf-8")
                return
            super().do_GET()

    return Handler


def serve(out: Path, runbooks: Path, rebuild: Callable[[], None], port: int) -> None:
    """Serve ``out`` on 127.0.0.1:``port`` (0: any free port) until SIGINT; rebuild on change."""
    watcher = Watcher(runbooks, rebuild)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(out, watcher))
    server.daemon_threads = True
    host, bound = server.server_address[:2]
    print(f"serving the UNSIGNED PREVIEW on http://{host!s}:{bound}/ (Ctrl-C stops)", flush=True)
    watcher.start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stopped.set()
        server.server_close()
        watcher.join(timeout=30)
    print("stopped", flush=True)
