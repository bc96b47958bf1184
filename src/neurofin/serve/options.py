"""The options of `neurofin serve`, checked (and the port bound) before any model loads."""

from __future__ import annotations

import errno
import ipaddress
import math
import socket
from dataclasses import dataclass

from neurofin.errors import InputError

TOKEN_ENV = "NEUROFIN_SERVE_TOKEN"


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen, how to batch, the per-request limits and time budget, auth and docs."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_wait_ms: float = 5.0  # how long a pass waits for more requests
    max_batch: int = 64  # texts per forward pass
    max_batch_chars: int = 2048  # characters per forward pass (a single longer text goes alone)
    max_texts: int = 256  # texts per request (413 above)
    max_chars: int = 100_000  # characters per request, all texts together (413 above)
    timeout_s: float = 120.0  # time budget of a request, queueing included (503 after it)
    token: str | None = None  # bearer token every request must send
    docs: bool = False  # serve /docs, /redoc and /openapi.json

    def check(self) -> None:
        """InputError naming the first option out of its range."""
        for name, value, low, high in [
            ("--port", self.port, 1, 65535), ("--max-wait-ms", self.max_wait_ms, 0, 1000),
            ("--max-batch", self.max_batch, 1, 4096), ("--max-batch-chars", self.max_batch_chars, 1, 10**7),
            ("--max-texts", self.max_texts, 1, 10**6), ("--max-chars", self.max_chars, 1, 10**9),
            ("--timeout-s", self.timeout_s, 0.01, 86400),
        ]:
            if not (math.isfinite(value) and low <= value <= high):
                raise InputError(f"{name} must be a number from {low} to {high}, not {value}")
        if self.token is not None and not self.token.strip():
            raise InputError(f"--token (or {TOKEN_ENV}) is empty: give a secret, or leave it unset for no auth")


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) (listening starts with the server): InputError if it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"--host {host!r} is not an address or name of this machine ({exc}): "
                         "use 127.0.0.1, 0.0.0.0 or one of its interface addresses") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} on {host} is in use (another server?): stop it or pick another --port") from None
        raise InputError(f"cannot listen on --host {host} --port {port} ({exc.strerror}): "
                         "pick a port >= 1024 and an address of this machine") from None
    return sock


def exposure_warning(sock: socket.socket, options: ServeOptions) -> str | None:
    """A warning when the socket is reachable from other machines, or None on a loopback address."""
    address = ipaddress.ip_address(sock.getsockname()[0].split("%")[0])
    if address.is_loopback:
        return None
    if options.token is None:
        return (f"warning: serving on {options.host} (reachable from other machines) without a token: anyone who "
                f"can reach it can use it; set {TOKEN_ENV} (or --token), or use --host 127.0.0.1")
    return f"warning: serving on {options.host} over plain HTTP: put a TLS proxy in front, or the token travels in clear"
