"""A fault-injecting TCP relay for tests: put it between a server and its S3 endpoint.

Modes, switched at any time (they apply to open connections too):

- ``pass``: bytes flow both ways unchanged;
- ``hang``: connections are accepted and kept open, requests are read and dropped, and
  nothing ever comes back (an S3 service that accepts connections but never answers);
- ``refuse``: the listening port is closed (new connections are refused) and every open
  connection is reset (an S3 service that is down).

Hand-written on purpose: it is a few dozen lines of sockets and threads, and the faults
it injects (silence on an open connection, refusal) are exactly what a proxy library
would try to hide.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Literal

Mode = Literal["pass", "hang", "refuse"]


class FaultProxy:
    """Relay ``127.0.0.1:<port>`` to ``upstream_host:upstream_port``, with injectable faults."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "pass"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()
        self._listen()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def set_mode(self, mode: Mode) -> None:
        """Switch the fault; ``refuse`` also resets every open connection."""
        with self._lock:
            previous, self.mode = self.mode, mode
            listener = self._listener
            open_sockets = list(self._sockets)
        if mode == "refuse":
            if listener is not None:
                self._listener = None
                with contextlib.suppress(OSError):
                    listener.close()
            for s in open_sockets:
                _reset(s)
        elif previous == "refuse" and self._listener is None:
            self._listen()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                _reset(client)
                continue
            with self._lock:
                self._sockets.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        if self.mode == "pass":
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                return
            with self._lock:
                self._sockets.add(upstream)
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, src: socket.socket, dst: socket.socket | None) -> None:
        """Copy ``src`` to ``dst`` while passing; read and drop while hanging."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.mode == "pass" and dst is not None:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                if s is not None:
                    with self._lock:
                        self._sockets.discard(s)
                    with contextlib.suppress(OSError):
                        s.close()

    def close(self) -> None:
        """Stop listening and reset every connection."""
        self.set_mode("refuse")
        self._closed = True


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed server would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
