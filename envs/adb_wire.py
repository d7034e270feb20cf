"""Calls to one device through the adb server, lean enough for a per-step hot path.

The request is two smart-socket commands on one connection to the server,
``host:transport:SERIAL`` then the service (``exec:CMD``, ``shell,v2:CMD`` or
``shell:CMD``), and the answer is read to EOF in large chunks. adbutils'
``AdbDevice.shell`` adds a ``host:version`` round trip and a 10 ms sleep to every call
and reads in 4 KiB pieces; this module avoids those (see benchmarks/android_io.py).

Errors say where the call failed, which decides whether it is safe to repeat:
`TransportError` (the server refused the device: offline, unauthorized, gone; nothing
was sent to the device) and `StreamError` (the connection dropped after the command
was sent, so it may have run).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT = 1, 2, 3
_CHUNK = 1 << 20


class AdbServerError(Exception):
    """The adb server cannot be reached (and could not be started)."""


class TransportError(Exception):
    """The server refused to route to the device (``FAIL`` to host:transport); nothing ran."""


class ServiceError(Exception):
    """The device refused the service itself (``FAIL`` after the transport was set up)."""


class StreamError(Exception):
    """The connection broke after the command was sent; it may or may not have run."""


@dataclass
class ShellResult:
    """A shell command's outcome; `returncode` is None without the shell v2 protocol."""

    stdout: bytes
    stderr: bytes
    returncode: int | None

    @property
    def text(self) -> str:
        return (self.stdout + self.stderr).decode("utf-8", "replace")


def connect_server(host: str, port: int, timeout: float, start: bool = True) -> socket.socket:
    """A socket to the adb server at host:port.

    With `start`, a local server that is not running is started on that very port
    (``adb -P PORT start-server``, with Debian's adb or adbutils' bundled one).
    """
    try:
        sock = socket.create_connection((host, port), timeout=min(timeout, 3.0))
    except OSError as exc:
        if not (start and host in ("127.0.0.1", "localhost", "::1")):
            raise AdbServerError(f"cannot reach the adb server at {host}:{port} ({exc})") from None
        start_server(port)
        try:
            sock = socket.create_connection((host, port), timeout=min(timeout, 3.0))
        except OSError as exc2:
            raise AdbServerError(f"cannot reach the adb server at {host}:{port} ({exc2})") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(timeout)
    return sock


def start_server(port: int) -> None:
    """``adb -P PORT start-server``; raises AdbServerError when there is no adb or it fails."""
    import subprocess

    import adbutils

    try:
        adb = adbutils.adb_path()
        done = subprocess.run([adb, "-P", str(port), "start-server"], capture_output=True, text=True, timeout=20,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError, adbutils.AdbError) as exc:
        raise AdbServerError(f"cannot start an adb server on port {port} ({exc})") from None
    if done.returncode != 0:
        raise AdbServerError(f"`adb start-server` failed on port {port}: {done.stderr.strip()[:200]}")


def _request(sock: socket.socket, command: str) -> str | None:
    """Send one smart-socket command; None on OKAY, the server's message on FAIL."""
    data = command.encode("utf-8")
    sock.sendall(b"%04x" % len(data) + data)
    status = _read_exact(sock, 4)
    if status == b"OKAY":
        return None
    if status == b"FAIL":
        size = int(_read_exact(sock, 4), 16)
        return _read_exact(sock, size).decode("utf-8", "replace")
    raise ConnectionError(f"unexpected adb server reply {status!r}")


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the adb server closed the connection")
        buf += chunk
    return bytes(buf)


def _read_all(sock: socket.socket) -> bytes:
    buf = bytearray()
    while True:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            return bytes(buf)
        buf += chunk


def call(host: str, port: int, serial: str, service: str, timeout: float = 30.0) -> bytes:
    """Open `service` on the device `serial` and return everything it writes."""
    sock = connect_server(host, port, timeout, start=False)
    try:
        try:
            fail = _request(sock, f"host:transport:{serial}")
        except (OSError, ConnectionError) as exc:
            raise TransportError(f"the adb server dropped the connection ({exc})") from None
        if fail is not None:
            raise TransportError(fail.strip())
        try:
            fail = _request(sock, service)
        except (OSError, ConnectionError) as exc:
            raise StreamError(f"connection lost while opening {service.split(':', 1)[0]} ({exc})") from None
        if fail is not None:
            raise ServiceError(fail.strip() or f"the device refused {service!r}")
        try:
            return _read_all(sock)
        except (OSError, ConnectionError) as exc:
            raise StreamError(f"connection lost while reading {service.split(':', 1)[0]} output ({exc})") from None
    finally:
        sock.close()


def host_query(host: str, port: int, command: str, timeout: float = 10.0, start: bool = False) -> str:
    """A host service answered by the server itself (``host:devices``, ``host-serial:S:features``)."""
    sock = connect_server(host, port, timeout, start=start)
    try:
        fail = _request(sock, command)
        if fail is not None:
            raise TransportError(fail.strip())
        size = int(_read_exact(sock, 4), 16)
        return _read_exact(sock, size).decode("utf-8", "replace")
    except (OSError, ConnectionError) as exc:
        raise AdbServerError(f"adb server connection failed during {command!r} ({exc})") from None
    finally:
        sock.close()


def parse_shell_v2(data: bytes) -> ShellResult:
    """Split shell-protocol v2 packets (id byte, u32 length, payload) into out/err/exit."""
    out, err = bytearray(), bytearray()
    rc: int | None = None
    i = 0
    while i + 5 <= len(data):
        kind, size = struct.unpack_from("<BI", data, i)
        payload = data[i + 5:i + 5 + size]
        i += 5 + size
        if kind == SHELL_STDOUT:
            out += payload
        elif kind == SHELL_STDERR:
            err += payload
        elif kind == SHELL_EXIT and payload:
            rc = payload[0]
    if rc is None:
        # The exit packet is the last thing a v2 shell sends; without it the stream was cut.
        raise StreamError("the shell ended without an exit status (connection cut)")
    return ShellResult(bytes(out), bytes(err), rc)
