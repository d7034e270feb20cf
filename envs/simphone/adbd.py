"""The adbd side of the adb transport protocol over TCP, enough for `adb connect` and adbutils.

A message is a 24-byte little-endian header (command, arg0, arg1, payload length,
payload byte sum, command ^ 0xffffffff) followed by the payload. The host (the adb
server) opens with ``CNXN``; this device answers ``CNXN`` with its banner (no ``AUTH``,
like a device whose key is already trusted) or, in unauthorized mode, ``AUTH`` tokens it
never accepts, which the server shows as ``unauthorized``. Each service is a stream:
host ``OPEN(id, 0, "shell:cmd\\0")`` -> device ``OKAY(my_id, id)``, then device
``WRTE`` chunks, each acknowledged by the host's ``OKAY`` before the next is sent, then
``CLSE``. Services: ``shell:`` (v1: raw bytes, stdout and stderr merged), ``shell,v2,...:``
(packets: id byte, u32 length, data; 1 stdout, 2 stderr, 3 exit code) and ``exec:``
(raw stdout). The phone model behind it is any callable `run(command) -> (out, err, rc)`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257

A_VERSION = 0x01000001  # the version that lets both sides skip payload checksums
MAX_PAYLOAD = 1024 * 1024
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3

# shell protocol v2 packet ids
SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN, SHELL_WINDOW = 0, 1, 2, 3, 4, 5

HEADER = struct.Struct("<6I")
# How long a stream waits for the host's OKAY before giving up on a dead connection.
ACK_TIMEOUT_S = 30.0
# A host that hangs up mid-answer must end only its own connection: without this flag a write to the
# reset socket raises SIGPIPE, which kills the whole phone wherever SIGPIPE is not ignored.
_NO_SIGPIPE = getattr(socket, "MSG_NOSIGNAL", 0)
_RECV_CHUNK = 256 * 1024
# Open streams per connection; the adb server uses a handful at a time.
MAX_STREAMS = 256
# After a failed accept() (out of file descriptors, a connection reset before it was taken), wait this long
# and go on serving: only `stop()` ends the accept loop.
_ACCEPT_RETRY_S = 0.05

Runner = Callable[[str], "tuple[bytes, bytes, int]"]
NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY", A_CLSE: "CLSE", A_WRTE: "WRTE"}


def header(command: int, arg0: int, arg1: int, payload: bytes | memoryview = b"", checksum: bool = True) -> bytes:
    """A message header; the payload byte sum is only needed by hosts older than A_VERSION."""
    check = sum(payload) & 0xFFFFFFFF if checksum else 0
    return HEADER.pack(command, arg0, arg1, len(payload), check, command ^ 0xFFFFFFFF)


def pack(command: int, arg0: int, arg1: int, payload: bytes = b"") -> bytes:
    """One wire message: header (with the payload's byte sum) + payload."""
    return header(command, arg0, arg1, payload) + payload


def read_message(sock: socket.socket) -> tuple[int, int, int, bytes]:
    """Read one message; raises ConnectionError on EOF or a corrupt header."""
    header = _read_exact(sock, HEADER.size)
    command, arg0, arg1, length, _checksum, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise ConnectionError(f"bad adb message magic for command {command:#x}")
    if length > 16 * MAX_PAYLOAD:
        raise ConnectionError(f"adb message payload too large ({length} bytes)")
    return command, arg0, arg1, _read_exact(sock, length) if length else b""


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        # Memory follows what arrives, not what a header declares.
        chunk = sock.recv(min(n - len(buf), _RECV_CHUNK))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return bytes(buf)


def shell_packet(kind: int, data: bytes) -> bytes:
    """A shell-protocol v2 packet."""
    return struct.pack("<BI", kind, len(data)) + data


def banner(props: dict[str, str], features: list[str]) -> bytes:
    """The CNXN payload a device sends: ``device::key=value;...;features=a,b``."""
    parts = [f"{k}={v}" for k, v in props.items()] + ["features=" + ",".join(features)]
    return ("device::" + ";".join(parts)).encode()


@dataclass
class _Stream:
    local_id: int
    remote_id: int
    acked: threading.Event = field(default_factory=threading.Event)
    closed: bool = False


class _Connection:
    """One host connection: a reader loop, and a thread per opened service stream."""

    def __init__(self, server: AdbdServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.send_lock = threading.Lock()
        self.streams: dict[int, _Stream] = {}
        self.next_id = 1
        self.max_payload = 4096  # until the host's CNXN says more
        self.online = False
        self.alive = True
        # Hosts speaking A_VERSION or later skip checksums (and adbd sends 0); summing a
        # 1 MiB chunk in Python costs ~10 ms, so only do it for older hosts.
        self.checksums = True

    def send(self, command: int, arg0: int, arg1: int, payload: bytes | memoryview = b"") -> None:
        head = header(command, arg0, arg1, payload, self.checksums)
        with self.send_lock:
            self.sock.sendall(head, _NO_SIGPIPE)
            if payload:
                self.sock.sendall(payload, _NO_SIGPIPE)

    def serve(self) -> None:
        try:
            while self.alive and not self.server.stopping:
                command, arg0, arg1, payload = read_message(self.sock)
                self.handle(command, arg0, arg1, payload)
        except (OSError, ConnectionError) as exc:
            log.debug("connection ended: %s", exc)
        finally:
            self.close()

    def close(self) -> None:
        self.alive = False
        for stream in list(self.streams.values()):
            stream.closed = True
            stream.acked.set()
        try:
            self.sock.close()
        except OSError:
            pass
        self.server.forget(self)

    def handle(self, command: int, arg0: int, arg1: int, payload: bytes) -> None:
        stream: _Stream | None
        if command == A_CNXN:
            self.max_payload = max(4096, min(arg1, MAX_PAYLOAD))
            self.checksums = arg0 < A_VERSION
            if self.server.unauthorized:
                # A device that does not know the host's key: send a token to sign. The
                # server's signature is never accepted, so it stays "unauthorized".
                self.send(A_AUTH, AUTH_TOKEN, 0, self.server.auth_token)
            else:
                self.online = True
                self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, self.server.banner)
        elif command == A_AUTH:
            if arg0 == AUTH_SIGNATURE:
                self.send(A_AUTH, AUTH_TOKEN, 0, self.server.auth_token)
            # AUTH_RSAPUBLICKEY: a real phone now shows the "Allow USB debugging?" prompt.
        elif command == A_OPEN:
            if not self.online:
                return
            if len(self.streams) >= MAX_STREAMS:
                self.send(A_CLSE, 0, arg0)  # refused, as an unknown service is: each stream is a thread
                return
            local_id = self.next_id
            self.next_id += 1
            service = payload.rstrip(b"\0").decode("utf-8", "replace")
            opened = _Stream(local_id, arg0)
            self.streams[local_id] = opened
            threading.Thread(target=self.run_stream, args=(opened, service), daemon=True,
                             name=f"simphone-stream-{local_id}").start()
        elif command == A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.remote_id = arg0
                stream.acked.set()
        elif command == A_WRTE:
            # Stdin for a stream; no command reads it, but the host needs its OKAY.
            self.send(A_OKAY, arg1, arg0)
        elif command == A_CLSE:
            closing = self.streams.pop(arg1, None)
            if closing is not None and not closing.closed:
                closing.closed = True
                closing.acked.set()
                self.send(A_CLSE, arg1, arg0)
        # A_SYNC and anything unknown: ignored, as adbd does.

    def run_stream(self, stream: _Stream, service: str) -> None:
        try:
            body = self.server.service(service)
            if body is None:
                # Unknown service: refuse the OPEN with a CLSE (adbd's answer).
                self.streams.pop(stream.local_id, None)
                self.send(A_CLSE, 0, stream.remote_id)
                return
            self.send(A_OKAY, stream.local_id, stream.remote_id)
            for chunk in body:
                self.write(stream, chunk)
            if not stream.closed:
                stream.closed = True
                self.streams.pop(stream.local_id, None)
                self.send(A_CLSE, stream.local_id, stream.remote_id)
            if service == "root:" and body and body[0].startswith(b"restarting"):
                # adbd restarts as root: the connection drops (`adb root` waits for that), the host reconnects
                time.sleep(0.2)
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)  # close() alone leaves the reader thread's recv
                self.close()
        except (OSError, ConnectionError) as exc:
            log.debug("stream %s ended: %s", service, exc)

    def write(self, stream: _Stream, data: bytes) -> None:
        view = memoryview(data)
        while view and not stream.closed:
            piece = view[: self.max_payload]
            view = view[len(piece):]
            stream.acked.clear()
            self.send(A_WRTE, stream.local_id, stream.remote_id, piece)
            if not stream.acked.wait(ACK_TIMEOUT_S):
                raise ConnectionError("host never acknowledged a write")


class AdbdServer:
    """A threaded TCP server speaking the device side of the adb protocol.

    `run(command)` executes a shell command line and returns (stdout, stderr, exit code).
    """

    def __init__(self, run: Runner, host: str = "127.0.0.1", port: int = 0, *,
                 props: dict[str, str] | None = None, unauthorized: bool = False, shell_v2: bool = True) -> None:
        self.run = run
        self.props = props or {"ro.product.name": "simphone", "ro.product.model": "SimPhone",
                               "ro.product.device": "simphone"}
        # Only what is implemented: shell v2 and `cmd`; no sync, so no stat_v2/ls_v2.
        # Without shell_v2 (Android < 7) clients fall back to `shell:` with no exit status.
        self.banner = banner(self.props, ["shell_v2", "cmd"] if shell_v2 else ["cmd"])
        self.unauthorized = unauthorized
        self.auth_token = bytes(range(20))  # fixed: the simulated phone is deterministic
        self.stopping = False
        self.connections: set[_Connection] = set()
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Lets a restarted simphone take its old port at once (TIME_WAIT sockets).
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(16)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]

    @property
    def port(self) -> int:
        return self.address[1]

    def _run(self, command: str) -> tuple[bytes, bytes, int]:
        try:
            return self.run(command)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the host waiting on a stream
            log.exception("command failed: %s", command)
            return b"", f"simphone: internal error running {command!r}: {exc!r}\n".encode(), 255

    def service(self, name: str):
        """The output chunks of a service, or None when it is not one this device offers."""
        kind, sep, command = name.partition(":")
        if not sep:
            return None
        options = kind.split(",")
        if options[0] == "root" and not command:  # `adb root`
            return [self._run("simphone root")[0]]
        if options[0] == "exec":
            out, _err, _rc = self._run(command)
            return [out]
        if options[0] == "shell":
            if not command.strip():
                # An interactive shell would need a PTY; answer like a shell that exits at once.
                command = "true"
            out, err, rc = self._run(command)
            if "v2" in options[1:]:
                packets = []
                if out:
                    packets.append(shell_packet(SHELL_STDOUT, out))
                if err:
                    packets.append(shell_packet(SHELL_STDERR, err))
                packets.append(shell_packet(SHELL_EXIT, bytes([rc & 0xFF])))
                return [b"".join(packets)]
            return [out + err]
        return None

    def serve_forever(self) -> None:
        """Accept connections until `stop()`."""
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except OSError as exc:
                if self.stopping:
                    break
                log.warning("accept failed (%s); still serving", exc)
                time.sleep(_ACCEPT_RETRY_S)
                continue
            conn: _Connection | None = None
            try:
                # Small request/answer messages: without TCP_NODELAY, Nagle + delayed ACK
                # add ~40-60 ms to every call.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn = _Connection(self, sock)
                with self.lock:
                    self.connections.add(conn)
                threading.Thread(target=conn.serve, daemon=True, name="simphone-conn").start()
            except (OSError, RuntimeError) as exc:  # a host gone already; no thread to spare
                log.warning("dropping a new connection: %s", exc)
                if conn is not None:
                    self.forget(conn)
                sock.close()

    def start(self) -> threading.Thread:
        """Serve in a background thread."""
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="simphone-accept")
        thread.start()
        return thread

    def forget(self, conn: _Connection) -> None:
        with self.lock:
            self.connections.discard(conn)

    def stop(self) -> None:
        """Stop accepting and drop every connection."""
        self.stopping = True
        try:
            # shutdown() wakes a thread blocked in accept(); close() alone does not on Linux.
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            conn.close()
