"""Serve one HTTP server on a daemon thread: the life cycle the WorkMail and S3 emulators share."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Generic, TypeVar

_Server = TypeVar("_Server", bound=ThreadingHTTPServer)


class Serving(Generic[_Server]):
    """Start and stop `server_class` on a thread; `stopping` is set while it shuts down, so a
    handler sleeping on purpose (latency, a hang) wakes at once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stopping = threading.Event()
        self.httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.httpd is not None

    def start(
        self,
        server_class: type[_Server],
        handler: type[BaseHTTPRequestHandler],
        address: tuple[str, int],
    ) -> _Server:
        """Bind and serve (on port 0: a free port, read back from `httpd.server_address`)."""
        assert self.httpd is None, "already serving"
        self.stopping.clear()
        httpd = server_class(address, handler)
        self.httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return httpd

    def shut_down(self) -> bool:
        """Stop accepting and close the socket; False when it was not serving."""
        httpd = self.httpd
        if httpd is None:
            return False
        self.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        return True

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.httpd = None
        self._thread = None
