"""``simphone``: the simulated phone's own control command (not on real devices).

- ``simphone state``: the whole state as JSON; ``simphone reset``: back to the start state;
- ``simphone load BASE64_JSON``: replace the state (a partial state is merged over the default);
- ``simphone log [clear]``: the command lines received, oldest first (for tests);
- ``simphone root``: what adbd's ``root:`` service (``adb root``) runs: the shell runs as root from then
  on; adbd then drops the connection, as a real one restarting does (the host reconnects).
"""

from __future__ import annotations

import base64
import binascii
import json

from guiagent.envs.simphone.command import CommandFn, Context, Result, b
from guiagent.envs.simphone.state import merge_state

USAGE = b"simphone state | reset | load BASE64_JSON | log [clear] | root\n"


def simphone(ctx: Context, args: list[str], stdin: bytes) -> Result:
    sub = args[0] if args else "help"
    phone = ctx.phone
    if sub == "state":
        return json.dumps(phone.state, sort_keys=True, ensure_ascii=False).encode() + b"\n", b"", 0
    if sub == "reset":
        phone.reset()
        return b"OK\n", b"", 0
    if sub == "load" and len(args) == 2:
        try:
            data = json.loads(base64.b64decode(args[1], validate=True).decode("utf-8"))
            phone.load(merge_state(data, source="simphone load"))
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return b"", b(f"simphone load: expected base64 of a JSON state ({exc})\n"), 1
        except ValueError as exc:
            return b"", b(f"{exc}\n"), 1
        return b"OK\n", b"", 0
    if sub == "root":  # what adbd's `root:` service runs (see adbd.py)
        if phone.state.get("root"):
            return b"adbd is already running as root\n", b"", 0
        phone.state["root"] = True
        return b"restarting adbd as root\n", b"", 0
    if sub == "log":
        if args[1:] == ["clear"]:
            ctx.log.clear()
            return b"", b"", 0
        lines = [ln for ln in ctx.log.lines() if not ln.startswith("simphone log")]
        return "".join(ln + "\n" for ln in lines).encode(), b"", 0
    return USAGE, b"", 0 if sub == "help" else 1


COMMANDS: dict[str, CommandFn] = {"simphone": simphone}
