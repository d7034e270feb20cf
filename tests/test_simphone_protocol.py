"""The simphone's adbd wire protocol: raw messages on a real socket, then the real adb client."""

from __future__ import annotations

import io
import socket
import struct

import pytest
from guiagent.envs.simphone.adbd import (
    A_AUTH,
    A_CLSE,
    A_CNXN,
    A_OKAY,
    A_OPEN,
    A_VERSION,
    A_WRTE,
    AUTH_SIGNATURE,
    AUTH_TOKEN,
    HEADER,
)
from guiagent.envs.simphone.server import SimPhone
from PIL import Image

from tests.fixtures.adb_host import Host


@pytest.fixture
def sim():
    with SimPhone(port=0) as s:
        yield s


@pytest.fixture
def host(sim):
    h = Host(sim.port)
    yield h
    h.close()


def test_cnxn_answers_with_the_device_banner_and_no_auth(host):
    cmd, version, maxdata, banner = host.connect()
    assert cmd == A_CNXN and version == A_VERSION and maxdata >= 4096
    text = banner.decode()
    assert text.startswith("device::")
    assert "ro.product.model=SimPhone" in text
    assert "features=shell_v2,cmd" in text


def test_headers_carry_magic_and_the_byte_sum_for_old_hosts(sim):
    h = Host(sim.port, version=0x01000000)
    try:
        h.send(A_CNXN, 0x01000000, 4096, b"host::\0")
        h.sock.settimeout(5)
        raw = h.sock.recv(HEADER.size, socket.MSG_WAITALL)
        cmd, _, _, length, checksum, magic = HEADER.unpack(raw)
        payload = h.sock.recv(length, socket.MSG_WAITALL)
        assert magic == cmd ^ 0xFFFFFFFF
        assert checksum == sum(payload)
    finally:
        h.close()


def test_shell_v1_returns_raw_output_then_close(host):
    host.connect()
    data, _ = host.run("shell:echo 'hello world'; echo $?")
    assert data == b"hello world\n0\n"


def test_shell_v2_packets_split_stdout_stderr_and_exit_code(host):
    host.connect()
    data, _ = host.run("shell,v2,raw:echo out; nosuchcmd; exit 3")
    packets, i = [], 0
    while i < len(data):
        kind, size = struct.unpack_from("<BI", data, i)
        packets.append((kind, data[i + 5:i + 5 + size]))
        i += 5 + size
    assert packets[0] == (1, b"out\n")
    assert packets[1][0] == 2 and b"nosuchcmd: inaccessible or not found" in packets[1][1]
    assert packets[-1] == (3, bytes([3]))


def test_exec_streams_binary_in_chunks_no_larger_than_the_host_maxdata(sim):
    h = Host(sim.port, maxdata=4096)
    try:
        h.connect()
        data, sizes = h.run("exec:screencap -p")
    finally:
        h.close()
    assert max(sizes) <= 4096 and len(sizes) > 1
    assert data == sim.phone.png()
    assert Image.open(io.BytesIO(data)).size == (1080, 2400)


def test_next_write_waits_for_the_hosts_okay(sim):
    h = Host(sim.port, maxdata=4096)
    try:
        h.connect()
        h.send(A_OPEN, 7, 0, b"exec:screencap -p\0")
        assert h.recv()[0] == A_OKAY
        cmd, dev, _, first = h.recv()
        assert cmd == A_WRTE
        # Until acknowledged, the device must not send more (adb's flow control).
        with pytest.raises(socket.timeout):
            h.recv(timeout=0.3)
        h.send(A_OKAY, 7, dev)
        assert h.recv()[0] == A_WRTE
    finally:
        h.close()


def test_unknown_service_is_refused_with_clse(host):
    host.connect()
    host.send(A_OPEN, 9, 0, b"sync:\0")
    cmd, _, arg1, _ = host.recv()
    assert cmd == A_CLSE and arg1 == 9


def test_unauthorized_phone_only_ever_sends_auth_tokens():
    with SimPhone(port=0, unauthorized=True) as s:
        h = Host(s.port)
        try:
            cmd, kind, _, token = h.connect()
            assert (cmd, kind) == (A_AUTH, AUTH_TOKEN) and len(token) == 20
            h.send(A_AUTH, AUTH_SIGNATURE, 0, b"\x01" * 256)
            cmd, kind, _, _ = h.recv()
            assert (cmd, kind) == (A_AUTH, AUTH_TOKEN)
            h.send(A_OPEN, 1, 0, b"shell:echo hi\0")
            with pytest.raises(socket.timeout):
                h.recv(timeout=0.3)
        finally:
            h.close()


# ------------------------------------------------------------ the real adb client and server


def test_real_adb_client_shell_and_exit_status(phone):
    out = phone.server.run("-s", phone.serial, "shell", "echo", "'a  b'", "&&", "exit", "7")
    assert out.stdout == "a  b\n"
    assert out.returncode == 7


def test_real_adb_exec_out_screencap_png(phone):
    out = subprocess_bytes(phone, "exec-out", "screencap", "-p")
    img = Image.open(io.BytesIO(out))
    assert img.format == "PNG" and img.size == (1080, 2400)


def test_real_adb_devices_lists_the_phone_with_its_banner(phone):
    out = phone.server.run("devices", "-l").stdout
    line = next(ln for ln in out.splitlines() if ln.startswith(phone.serial))
    assert " device " in line and "model:SimPhone" in line


def subprocess_bytes(phone, *args: str) -> bytes:
    import subprocess

    return subprocess.run([phone.server.adb, "-P", str(phone.server.port), "-s", phone.serial, *args],
                          capture_output=True, check=True, timeout=30, env=phone.server.env).stdout


def test_cli_starts_from_a_state_file_at_a_size(adb_server, tmp_path):
    import json

    from guiagent.envs.simphone.state import default_state

    from tests.fixtures.android import extra_simphone

    state = default_state()
    state["settings"]["global"]["wifi_on"] = "1"
    state["notes"] = [{"id": 1, "text": "from file"}]
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    with extra_simphone(adb_server, "--state", str(path), "--size", "720x1280") as phone:
        assert phone.shell("settings get global wifi_on") == "1"
        assert phone.shell("content query --uri content://com.simphone.notes/notes") == "Row: 0 _id=1, text=from file"
        assert phone.shell("wm size") == "Physical size: 720x1280"
        png = subprocess_bytes(phone, "exec-out", "screencap", "-p")
        assert Image.open(io.BytesIO(png)).size == (720, 1280)
