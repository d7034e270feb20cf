"""Device selection errors, lost devices and reconnection, with real adb servers and simphones."""

from __future__ import annotations

import pytest
from guiagent.envs.android import AndroidEnv
from guiagent.envs.base import ActionError, EnvError
from guiagent.tools.actions import Click, MobileType

from tests.fixtures.android import AdbServer, extra_simphone, free_port, spawn_simphone, start_simphone


def _env_error(**kw) -> EnvError:
    with pytest.raises(EnvError) as exc:
        AndroidEnv(**kw)
    assert "\n" not in str(exc.value)
    return exc.value


def test_no_serial_picks_the_only_device(phone):
    env = AndroidEnv(adb_port=phone.server.port)
    assert env.serial == phone.serial


def test_no_serial_with_two_devices_asks_for_one(phone):
    with extra_simphone(phone.server) as other:
        err = _env_error(adb_port=phone.server.port)
    assert "several Android devices are attached" in str(err)
    assert f"{phone.serial} (device)" in str(err) and f"{other.serial} (device)" in str(err)
    assert "--env android:SERIAL" in str(err)


def test_no_device_at_all(adb_server):
    empty = AdbServer(adb_server.adb, free_port())
    assert empty.run("start-server").returncode == 0
    try:
        err = _env_error(adb_port=empty.port)
    finally:
        empty.run("kill-server")
    assert str(err).startswith("no Android device is attached")
    assert "USB debugging" in str(err) and "guiagent simphone" in str(err)


def test_serial_not_attached_lists_the_attached_ones(phone):
    err = _env_error(serial="R58M123ABC", adb_port=phone.server.port)
    assert str(err).startswith("device R58M123ABC is not attached; attached devices: ")
    assert f"{phone.serial} (device)" in str(err)


def test_host_port_serial_is_connected_on_demand(adb_server):
    proc, port = spawn_simphone()
    serial = f"127.0.0.1:{port}"
    try:
        assert serial not in adb_server.devices()
        env = AndroidEnv(serial, adb_port=adb_server.port)
        assert adb_server.devices()[serial] == "device"
        assert env.observe().image.size == (1080, 2400)
    finally:
        adb_server.run("disconnect", serial)
        proc.terminate()
        proc.wait(10)


def test_nothing_listening_on_a_host_port_serial(adb_server):
    port = free_port()
    err = _env_error(serial=f"127.0.0.1:{port}", adb_port=adb_server.port)
    assert str(err).startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert "listening there" in str(err)


def test_unauthorized_device_says_to_accept_the_prompt(adb_server):
    with extra_simphone(adb_server, "--unauthorized") as phone:
        assert adb_server.wait_state(phone.serial, ("unauthorized",)) == "unauthorized"
        err = _env_error(serial=phone.serial, adb_port=adb_server.port)
    assert str(err) == (f"device {phone.serial} is unauthorized: accept the USB debugging prompt on the phone "
                        "(tick 'Always allow from this computer'), then retry")


def test_adb_server_not_running_is_one_line():
    port = free_port()
    err = _env_error(serial="x", adb_port=port, start_server=False)
    assert str(err).startswith(f"cannot reach the adb server at 127.0.0.1:{port} (")
    assert "adb start-server" in str(err)


def test_a_missing_local_server_is_started_on_the_port_asked_for(adb_server):
    server = AdbServer(adb_server.adb, free_port())
    try:
        err = _env_error(adb_port=server.port)  # starts the server, which has no device
        assert str(err).startswith("no Android device is attached")
        assert server.run("devices").returncode == 0 and "List of devices attached" in server.run("devices").stdout
    finally:
        server.run("kill-server")


def test_reconnects_after_the_phone_restarts(adb_server):
    phone = start_simphone(adb_server)
    try:
        env = AndroidEnv(phone.serial, adb_port=adb_server.port, reconnect_delay=0.1)
        env.observe()
        phone.shell("settings put global wifi_on 1")
        phone.kill()
        proc, port = spawn_simphone(port=phone.port)  # a fresh phone on the same port
        phone.proc = proc
        shot = env.observe()
        assert shot.image.size == (1080, 2400)
        env.execute(Click(coordinate=(540, 1200)))
        # it is the new process answering: its state is the default one and it saw the tap
        assert phone.shell("settings get global wifi_on") == "0"
        assert "input tap 540 1200" in phone.log()
    finally:
        phone.stop()


def test_device_that_does_not_come_back_is_device_lost(adb_server):
    phone = start_simphone(adb_server)
    try:
        env = AndroidEnv(phone.serial, adb_port=adb_server.port, reconnect_tries=2, reconnect_delay=0.1)
        env.observe()
        phone.kill()
        with pytest.raises(EnvError) as exc:
            env.observe()
    finally:
        phone.stop()
    err = exc.value
    assert err.reason == "device_lost"
    assert str(err).startswith(f"device {phone.serial} was lost (")
    assert "did not come back after 2 reconnect attempts" in str(err) and "\n" not in str(err)


def test_old_device_without_shell_v2_still_reports_failures(adb_server):
    with extra_simphone(adb_server, "--no-shell-v2") as phone:
        env = AndroidEnv(phone.serial, adb_port=adb_server.port)
        assert "shell_v2" not in env.features
        env.execute(MobileType(text="it's a (test)"))  # typed nowhere (no field), but accepted
        assert phone.log()[-1] == "input text 'it'\"'\"'s%sa%s(test)'"
        with pytest.raises(ActionError, match="Unknown keycode"):
            env._run("input keyevent NOSUCH")
        assert env.observe().image.size == (1080, 2400)
