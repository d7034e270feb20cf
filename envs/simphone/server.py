"""`SimPhone`: the phone model, its shell and the adbd server, wired together."""

from __future__ import annotations

from guiagent.envs.simphone.adbd import AdbdServer
from guiagent.envs.simphone.phone import Phone
from guiagent.envs.simphone.shell import Shell
from guiagent.envs.simphone.state import ADB_IME, default_state


class SimPhone:
    """A simulated phone listening for the adb server on `host`:`port` (0 = a free port)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", size: tuple[int, int] = (1080, 2400),
                 state: dict | None = None, adb_keyboard: bool = True, unauthorized: bool = False,
                 shell_v2: bool = True) -> None:
        state = state if state is not None else default_state()
        if not adb_keyboard:
            state = _without_adb_keyboard(state)
        self.phone = Phone(state, size=size)
        self.shell = Shell(self.phone)
        self.server = AdbdServer(self.shell.run, host=host, port=port, unauthorized=unauthorized, shell_v2=shell_v2,
                                 props={k: self.phone.props[k] for k in
                                        ("ro.product.name", "ro.product.model", "ro.product.device")})

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def serial(self) -> str:
        """The serial the adb server gives this phone after ``adb connect``."""
        host, port = self.server.address
        return f"{host}:{port}"

    def start(self) -> SimPhone:
        self.server.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> SimPhone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _without_adb_keyboard(state: dict) -> dict:
    state = dict(state)
    state["imes"] = [i for i in state["imes"] if i != ADB_IME]
    secure = dict(state["settings"]["secure"])
    secure["enabled_input_methods"] = ":".join(
        i for i in secure.get("enabled_input_methods", "").split(":") if i and i != ADB_IME)
    if secure.get("default_input_method") == ADB_IME:
        secure["default_input_method"] = state["imes"][0] if state["imes"] else ""
    state["settings"] = dict(state["settings"], secure=secure)
    return state
