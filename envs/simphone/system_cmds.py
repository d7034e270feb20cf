"""The simulated phone's system-service commands: getprop/setprop, settings, svc, cmd and ime."""

from __future__ import annotations

from guiagent.envs.simphone.command import CommandFn, Context, Result, b
from guiagent.envs.simphone.phone import Phone
from guiagent.envs.simphone.state import LATIN_IME

# `cmd SERVICE ...` for the services whose shell command also exists on its own
_SERVICE_COMMANDS = {"package": "pm", "activity": "am", "input_method": "ime", "settings": "settings",
                     "window": "wm", "input": "input"}


def getprop(ctx: Context, args: list[str], stdin: bytes) -> Result:
    props = ctx.phone.props
    if not args:
        return "".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())).encode(), b"", 0
    return (props.get(args[0], args[1] if len(args) > 1 else "") + "\n").encode(), b"", 0


def setprop(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if len(args) != 2:
        return b"", b"usage: setprop NAME VALUE\n", 1
    if args[0].startswith("ro.") and args[0] in ctx.phone.props:
        return b"", b(f"Failed to set property '{args[0]}' to '{args[1]}'.\n"), 1
    ctx.phone.props[args[0]] = args[1]
    return b"", b"", 0


def settings(ctx: Context, args: list[str], stdin: bytes) -> Result:
    args = list(args)
    while args and args[0] == "--user":
        args = args[2:]
    if len(args) < 2:
        return b"", b"usage:  settings [--user <USER_ID> | current] get namespace key\n", 1
    verb, ns, rest = args[0], args[1], args[2:]
    if ns not in ("global", "secure", "system"):
        return b"", b(f"Invalid namespace '{ns}'\n"), 1
    table = ctx.phone.settings(ns)
    if verb == "get" and rest:
        return (table.get(rest[0], "null") + "\n").encode(), b"", 0
    if verb == "put" and len(rest) >= 2:
        table[rest[0]] = rest[1]
        ctx.phone.changed()
        return b"", b"", 0
    if verb == "delete" and rest:
        existed = table.pop(rest[0], None) is not None
        ctx.phone.changed()
        return f"Deleted {int(existed)} rows\n".encode(), b"", 0
    if verb == "list":
        return "".join(f"{k}={v}\n" for k, v in sorted(table.items())).encode(), b"", 0
    return b"", b(f"Invalid command: {verb}\n"), 1


def _radio(phone: Phone, key: str, on: bool) -> None:
    phone.settings("global")[key] = "1" if on else "0"
    if key == "airplane_mode_on" and on:
        phone.settings("global").update(wifi_on="0", bluetooth_on="0")
    phone.changed()


def svc(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if len(args) >= 2 and args[0] in ("wifi", "bluetooth") and args[1] in ("enable", "disable"):
        _radio(ctx.phone, "wifi_on" if args[0] == "wifi" else "bluetooth_on", args[1] == "enable")
        return b"", b"", 0
    if args and args[0] in ("power", "data", "usb", "nfc"):
        return b"", b"", 0
    return b"", b"Available commands: help power data wifi usb nfc bluetooth\n", 1


def cmd(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if not args:
        return b"", b"cmd: no service specified; use -l to list all services\n", 20
    service, rest = args[0], args[1:]
    if service == "-l":
        return b"activity\nbluetooth_manager\nconnectivity\ninput_method\npackage\nsettings\nwifi\nwindow\n", b"", 0
    delegate = _SERVICE_COMMANDS.get(service)
    if delegate is not None:
        return ctx.commands[delegate](ctx, rest, stdin)
    phone = ctx.phone
    g = phone.settings("global")
    if service == "wifi":
        if len(rest) >= 2 and rest[0] == "set-wifi-enabled" and rest[1] in ("enabled", "disabled"):
            _radio(phone, "wifi_on", rest[1] == "enabled")
            return b"", b"", 0
        if rest and rest[0] == "status":
            return f"Wifi is {'enabled' if g.get('wifi_on') == '1' else 'disabled'}\n".encode(), b"", 0
    if service == "bluetooth_manager" and rest and rest[0] in ("enable", "disable"):
        _radio(phone, "bluetooth_on", rest[0] == "enable")
        return b"", b"", 0
    if service == "connectivity" and rest and rest[0] == "airplane-mode":
        if len(rest) == 1:
            return f"{'enabled' if g.get('airplane_mode_on') == '1' else 'disabled'}\n".encode(), b"", 0
        _radio(phone, "airplane_mode_on", rest[1] == "enable")
        return b"", b"", 0
    if service == "statusbar":
        return b"", b"", 0
    return f"Can't find service: {service}\n".encode(), b"", 20


def ime(ctx: Context, args: list[str], stdin: bytes) -> Result:
    phone = ctx.phone
    secure = phone.settings("secure")
    installed = list(phone.state["imes"])
    enabled = [i for i in secure.get("enabled_input_methods", "").split(":") if i in installed]
    if not args:
        return b"", b"usage: ime [list|enable|disable|set|reset] ...\n", 1
    sub, rest = args[0], args[1:]
    ids = [a for a in rest if not a.startswith("-")]
    if sub == "list":
        shown = installed if "-a" in rest else enabled
        if "-s" in rest:
            return "".join(i + "\n" for i in shown).encode(), b"", 0
        return "".join(f"{i}:\n  mId={i} mSettingsActivityName=null\n" for i in shown).encode(), b"", 0
    if sub in ("enable", "disable", "set") and ids:
        name = ids[-1]
        if name not in installed:
            return b"", b(f"Unknown input method {name} cannot be {'selected' if sub == 'set' else sub + 'd'}"
                          f" for user #0\n"), 1
        if sub == "enable":
            if name in enabled:
                return f"Input method {name}: already enabled for user #0\n".encode(), b"", 0
            enabled.append(name)
            secure["enabled_input_methods"] = ":".join(enabled)
            phone.changed()
            return f"Input method {name}: now enabled for user #0\n".encode(), b"", 0
        if sub == "disable":
            enabled = [i for i in enabled if i != name]
            secure["enabled_input_methods"] = ":".join(enabled)
            if secure.get("default_input_method") == name:
                secure["default_input_method"] = enabled[0] if enabled else ""
            phone.changed()
            return f"Input method {name}: now disabled for user #0\n".encode(), b"", 0
        if name not in enabled:
            return b"", b(f"Unknown input method {name} cannot be selected for user #0\n"), 1
        secure["default_input_method"] = name
        phone.changed()
        return f"Input method {name} selected for user #0\n".encode(), b"", 0
    if sub == "reset":
        secure["default_input_method"] = LATIN_IME
        phone.changed()
        return b"Reset current and enabled IMEs for user #0\n", b"", 0
    return b"", b(f"Unknown command: {sub}\n"), 1


def service(ctx: Context, args: list[str], stdin: bytes) -> Result:
    """`service call SERVICE CODE ARGS...`: only AlarmManager's setTimeZone (``alarm 3 s16 TZ``) acts."""
    if args[:1] == ["list"]:
        return b"Found 1 services:\n0\talarm: [android.app.IAlarmManager]\n", b"", 0
    if args[:1] != ["call"] or len(args) < 3:
        return b"", b"usage: service [-h|-?]\n       service list\n       service check SERVICE\n" \
                    b"       service call SERVICE CODE [i32 N | i64 N | f N | d N | s16 STR | null | fd f] ...\n", 1
    name, code, rest = args[1], args[2], args[3:]
    if name != "alarm":
        return b(f"service: Service {name} does not exist\n"), b"", 0
    if code == "3" and len(rest) == 2 and rest[0] == "s16":
        ctx.phone.state["timezone"] = rest[1]
    return b"Result: Parcel(00000000    '....')\n", b"", 0


COMMANDS: dict[str, CommandFn] = {"service": service,
    "getprop": getprop, "setprop": setprop, "settings": settings, "svc": svc, "cmd": cmd, "ime": ime,
}
