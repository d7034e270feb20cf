"""The simulated phone under hostile input: huge command lines, hosts that hang up mid-answer, a fuzzed adbd port.

Real parts throughout: the phone's shell in process, `python -m guiagent simphone` subprocesses on loopback,
raw adb-protocol sockets and the real adb server.
"""

from __future__ import annotations

import random
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from guiagent.envs.simphone.adbd import (
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_SYNC,
    A_VERSION,
    A_WRTE,
    HEADER,
    pack,
)
from guiagent.envs.simphone.server import SimPhone
from guiagent.envs.simphone.shell import MAX_COMMAND_CHARS, CommandLog

from tests.fixtures.adb_host import Host

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sim() -> SimPhone:
    return SimPhone(port=0)  # never started: the shell is called directly


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


# ------------------------------------------------------------ command-line length


@pytest.mark.parametrize("shape", ["plain", "single-quoted", "double-quoted", "escaped"])
def test_a_long_command_line_is_parsed_in_linear_time(sim, shape):
    """~1M characters, just under the cap: quadratic scanning took 5 s at 400k characters and 90 s at 1.6M."""
    n = MAX_COMMAND_CHARS - 100
    body = {"plain": "a" * n, "single-quoted": "'" + "a" * n + "'", "double-quoted": '"' + "a" * n + '"',
            "escaped": "\\ " * (n // 2)}[shape]
    (out, err, rc), seconds = timed(sim.shell.run, "echo " + body + " | wc -c")
    assert (rc, err) == (0, b"")
    assert int(out) == {"escaped": n // 2}.get(shape, n) + 1  # the text and echo's newline
    assert seconds < 3.0, f"{shape}: {seconds:.1f} s"


def test_typing_a_long_text_is_linear(sim):
    """`input text` turns %s into spaces and types into the field: neither goes character by character."""
    sim.shell.run("am start -n com.simphone.notes/.NotesActivity")
    sim.phone.push({"name": "edit", "note_id": None, "fields": {"text": ""}, "focus": "text"})
    text = "ab%s" * (300_000 // 4)
    (_, err, rc), seconds = timed(sim.shell.run, f"input text '{text}'")
    assert (rc, err) == (0, b"")
    assert sim.phone.top()["fields"]["text"] == "ab " * (300_000 // 4)
    assert seconds < 3.0, f"{seconds:.1f} s"


def test_a_command_line_over_the_cap_is_refused_at_once(sim):
    line = "echo " + "a" * (8 * 1024 * 1024)  # the 8 MiB line
    (out, err, rc), seconds = timed(sim.shell.run, line)
    assert rc == 126 and out == b""
    assert err.decode().startswith("/system/bin/sh: argument list too long") and str(MAX_COMMAND_CHARS) in err.decode()
    assert err.count(b"\n") == 1
    assert seconds < 0.5
    assert sim.shell.run("echo still here") == (b"still here\n", b"", 0)
    logged = sim.shell.run("simphone log")[0].decode().splitlines()
    assert logged[0].endswith(f"({len(line)} characters, refused)") and len(logged[0]) < 300


def test_a_command_at_the_cap_is_accepted(sim):
    line = "echo " + "a" * (MAX_COMMAND_CHARS - len("echo "))
    out, _, rc = sim.shell.run(line)
    assert rc == 0 and len(out) == MAX_COMMAND_CHARS - len("echo ") + 1


def test_the_command_log_is_bounded_in_characters():
    log = CommandLog(max_lines=500, max_chars=3_000_000)
    for i in range(10):
        log.append(str(i) * 1_000_000)
    assert [ln[0] for ln in log.lines()] == ["7", "8", "9"]
    log.append("short")
    assert log.lines()[-1] == "short" and sum(map(len, log.lines())) <= 3_000_000


def test_an_oversized_adb_shell_line_is_answered_over_the_wire():
    """The 8 MiB `shell,v2` OPEN that held the phone's lock for tens of minutes: exit 126 within seconds."""
    with SimPhone(port=0) as s:
        host = Host(s.port)
        try:
            host.connect()
            data, _ = host.run("shell,v2,raw:echo " + "x" * (8 * 1024 * 1024))
            packets, i = {}, 0
            while i < len(data):
                kind, size = struct.unpack_from("<BI", data, i)
                packets[kind] = data[i + 5:i + 5 + size]
                i += 5 + size
            assert packets[3] == bytes([126]) and b"argument list too long" in packets[2]
            assert host.run("shell:echo ok")[0] == b"ok\n"
        finally:
            host.close()


# ------------------------------------------------------------ hosts that hang up


HANG_UPS_MID_STREAM = 1000  # without MSG_NOSIGNAL and with SIGPIPE at SIG_DFL the phone died within ~50
HANG_UP_WORKERS = 8
HANG_UPS_MID_COMMAND = 2
SIG_DFL_SIMPHONE = ("import signal, sys; signal.signal(signal.SIGPIPE, signal.SIG_DFL); "
                    "from guiagent.cli import main; sys.exit(main(['simphone', '--port', '0']))")


def _start(cmd: list[str], stderr) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
                            stdin=subprocess.DEVNULL)
    line = proc.stdout.readline()
    assert line.startswith("simphone listening on "), line
    return proc, int(line.strip().rsplit(":", 1)[1])


def _hang_up(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), unread data and all, as a killed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("how", ["guiagent simphone", "SIGPIPE left at SIG_DFL"])
def test_a_host_that_hangs_up_mid_answer_ends_only_its_connection(how, tmp_path):
    """Hosts reset their connection while a screencap is being made and in the middle of its answer: the phone
    keeps serving. A write to a reset socket raises SIGPIPE; where SIGPIPE is not ignored (the second case: an
    embedding process, or `guiagent` before it stopped setting SIG_DFL for simphone) it killed the phone."""
    cmd = ([sys.executable, "-m", "guiagent", "simphone", "--port", "0"] if how == "guiagent simphone"
           else [sys.executable, "-c", SIG_DFL_SIMPHONE])
    with (tmp_path / "stderr").open("w") as err:
        proc, port = _start(cmd, err)
    try:
        for n in range(HANG_UPS_MID_COMMAND):
            # The capture takes ~0.5 s (the screen changed); the host is gone before its answer starts.
            host = Host(port)
            host.connect()
            host.send(A_OPEN, 7, 0, f"shell:svc wifi {('enable', 'disable')[n % 2]}; screencap\0".encode())
            time.sleep(0.1)
            _hang_up(host.sock)
            time.sleep(0.8)
            assert proc.poll() is None, f"the phone died after {n + 1} hang-ups mid-command (exit {proc.returncode})"
        hung_up = []

        def hang_up_mid_stream(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(HANG_UPS_MID_STREAM // HANG_UP_WORKERS):
                if proc.poll() is not None:
                    return
                host = Host(port, maxdata=4096)  # many small WRTEs: many writes that can meet the reset
                host.connect()
                host.send(A_OPEN, 7, 0, b"exec:screencap -p\0")
                _, remote, _, _ = host.recv()
                for _ in range(rng.randrange(3)):
                    host.recv()
                    host.send(A_OKAY, 7, remote)
                _hang_up(host.sock)
                hung_up.append(1)

        workers = [threading.Thread(target=hang_up_mid_stream, args=(seed,)) for seed in range(HANG_UP_WORKERS)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        assert proc.poll() is None, f"the phone died after {len(hung_up)} hang-ups mid-answer (exit {proc.returncode})"
        assert len(hung_up) == HANG_UPS_MID_STREAM
        time.sleep(0.2)
        assert proc.poll() is None, f"the phone died (exit {proc.returncode})"
        host = Host(port)
        host.connect()
        png, _ = host.run("exec:screencap -p")
        assert png.startswith(b"\x89PNG")
        host.close()
    finally:
        proc.kill()
        proc.wait(10)


# ------------------------------------------------------------ fuzzing the adbd port


FUZZ_CONNECTIONS = 1000
FUZZ_WORKERS = 8  # below the listen backlog (16)
FUZZ_SECONDS = 20.0  # a bound, not the expected time (a few seconds)


def _header(command: int, arg0: int, arg1: int, length: int, magic: int | None = None) -> bytes:
    return HEADER.pack(command, arg0, arg1, length, 0, command ^ 0xFFFFFFFF if magic is None else magic)


def _cnxn(maxdata: int = 4096) -> bytes:
    return pack(A_CNXN, A_VERSION, maxdata, b"host::features=shell_v2\0")


def _fuzz_case(rng: random.Random) -> tuple[str, bytes]:
    """One hostile opening: (kind, bytes to send)."""
    kind = rng.choice(["random bytes", "half a CNXN", "huge length", "short payload", "bad magic",
                       "before CNXN", "after CNXN", "many OPENs", "random maxdata"])
    if kind == "random bytes":
        return kind, rng.randbytes(rng.randrange(1, 4096))
    if kind == "half a CNXN":
        return kind, _cnxn()[: rng.randrange(1, HEADER.size + 10)]
    if kind == "huge length":
        length = rng.choice([0xFFFFFFFF, 0x80000000, 16 * 1024 * 1024 + 1, 16 * 1024 * 1024, 1024 * 1024])
        return kind, _header(rng.choice([A_CNXN, A_OPEN, A_WRTE]), 1, 1, length) + rng.randbytes(rng.randrange(64))
    if kind == "short payload":
        return kind, _header(A_CNXN, A_VERSION, 4096, 1000) + b"host::"
    if kind == "bad magic":
        return kind, _header(A_CNXN, A_VERSION, 4096, 0, magic=rng.getrandbits(32))
    if kind == "before CNXN":
        return kind, pack(A_OPEN, 1, 0, b"shell:echo hi\0") + pack(A_OKAY, 1, 1) + pack(A_WRTE, 1, 1, b"x")
    if kind == "after CNXN":
        messages = [pack(rng.choice([A_OPEN, A_OKAY, A_WRTE, A_CLSE, A_SYNC, rng.getrandbits(32)]),
                         rng.getrandbits(32), rng.getrandbits(32), rng.randbytes(rng.randrange(64)))
                    for _ in range(rng.randrange(1, 20))]
        return kind, _cnxn() + b"".join(messages)
    if kind == "many OPENs":
        services = [b"shell:" + bytes(rng.randrange(32, 127) for _ in range(rng.randrange(40))),
                    b"exec:echo x", b"sync:", b"jdwp:1", b"shell,v2,raw:id", b"\xff\xfe", b""]
        return kind, _cnxn() + b"".join(pack(A_OPEN, i + 1, 0, rng.choice(services) + b"\0") for i in range(300))
    return kind, pack(A_CNXN, rng.getrandbits(32), rng.choice([0, 1, 0xFFFFFFFF]), rng.randbytes(20))


def _fuzz_one(port: int, kind_data: tuple[str, bytes], rng: random.Random) -> None:
    _, data = kind_data
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(data)
            s.settimeout(rng.choice([0.0, 0.01, 0.05]))
            if s.gettimeout():
                s.recv(65536)
        except OSError:  # the phone hung up on us, or had nothing to say
            pass
        if rng.random() < 0.5:
            _hang_up(s)


def _proc_status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            fields[key] = int(value.split()[0])
    return fields


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the phone's memory")
def test_fuzzing_the_adbd_port_leaves_the_phone_serving_in_bounded_memory(adb_server, tmp_path):
    """1,000 seeded hostile connections (random bytes, half a CNXN, huge declared lengths, OPEN floods, ...), 8 at
    a time, loopback only; then the real adb server connects and runs a shell command, and the phone's memory and
    thread count are back near where they started."""
    err_path = tmp_path / "stderr"
    with err_path.open("w") as err:
        proc, port = _start([sys.executable, "-m", "guiagent", "simphone", "--port", "0"], err)
    try:
        warm = Host(port)
        warm.connect()
        for _ in range(20):
            assert warm.run("shell:echo warm")[0] == b"warm\n"
        warm.close()
        time.sleep(0.3)
        before = _proc_status(proc.pid)
        rng = random.Random(20261202)
        cases = [(_fuzz_case(rng), random.Random(rng.getrandbits(64))) for _ in range(FUZZ_CONNECTIONS)]
        kinds = {}
        for (kind, _), _ in cases:
            kinds[kind] = kinds.get(kind, 0) + 1
        deadline = time.monotonic() + FUZZ_SECONDS
        done = [0]
        lock = threading.Lock()

        def worker(chunk: list) -> None:
            for case, case_rng in chunk:
                if time.monotonic() > deadline:
                    return
                _fuzz_one(port, case, case_rng)
                with lock:
                    done[0] += 1

        threads = [threading.Thread(target=worker, args=(cases[i::FUZZ_WORKERS],)) for i in range(FUZZ_WORKERS)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(FUZZ_SECONDS + 10)
        seconds = time.monotonic() - start
        assert done[0] == FUZZ_CONNECTIONS, f"only {done[0]} connections in {seconds:.1f} s"
        assert proc.poll() is None, f"the phone died (exit {proc.returncode}): {err_path.read_text()[-2000:]}"

        serial = f"127.0.0.1:{port}"
        out = adb_server.run("connect", serial)
        assert "connected to" in out.stdout, out.stdout + out.stderr
        assert adb_server.wait_state(serial, ("device",)) == "device"
        shell = adb_server.run("-s", serial, "shell", "echo fuzzed; getprop ro.product.model")
        assert (shell.returncode, shell.stdout) == (0, "fuzzed\nSimPhone\n"), shell.stderr
        adb_server.run("disconnect", serial)

        settle = time.monotonic() + 10
        after = _proc_status(proc.pid)
        while after["Threads"] > before["Threads"] + 2 and time.monotonic() < settle:
            time.sleep(0.1)
            after = _proc_status(proc.pid)
        print(f"\nfuzz: {done[0]} connections in {seconds:.2f} s ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
              f"RSS {before['VmRSS'] / 1024:.1f} -> {after['VmRSS'] / 1024:.1f} MiB; "
              f"threads {before['Threads']} -> {after['Threads']}")
        assert after["Threads"] <= before["Threads"] + 2, (before, after)
        assert after["VmRSS"] - before["VmRSS"] < 64 * 1024, (before, after)  # KiB
    finally:
        proc.kill()
        proc.wait(10)
