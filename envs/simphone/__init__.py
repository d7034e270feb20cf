"""`guiagent simphone`: a simulated Android phone that speaks the adbd protocol over TCP.

``adb connect 127.0.0.1:PORT`` attaches it to the real adb server, and adbutils drives it
like a phone. Layers: `adbd` (wire protocol), `shell` (sh + Android commands),
`phone` (state, navigation, input, captures), `apps` and `ui` (widgets and rendering),
`state` (the JSON state, --state FILE); the command line is `guiagent.cli.simphone`.

In-process use (tests, the harness)::

    from guiagent.envs.simphone import SimPhone
    with SimPhone(port=0) as sim:        # serves in a background thread
        print(sim.port)
"""

from __future__ import annotations

from guiagent.envs.simphone.server import SimPhone

__all__ = ["SimPhone"]
