"""Android I/O latency: AndroidEnv's screenshot and tap paths vs spawning `adb` for each call.

Runs against `guiagent simphone` through the real adb server, both started here on free
ports (or an existing device: --serial S [--adb-port P]). Every operation ends in the
same place on both sides: a screenshot is a decoded RGB PIL image, a tap has returned
from the device. Baselines, measured in the same run:

* ``adb exec-out screencap -p`` as a subprocess + PIL decode (what scripts usually do);
* ``adb shell input tap X Y`` as a subprocess;
* adbutils' own ``AdbDevice.screenshot()`` (+ load) and ``AdbDevice.click()``, for reference.

Screen unchanged (taps go to the status bar): the simphone sends its cached PNG and
AndroidEnv skips decoding bytes equal to the previous capture's. "changing screen" rows
toggle Wi-Fi on the Settings screen before every capture, so both sides pay the phone's
drawing and encoding and a full decode; the "simphone in-process" rows show how much of
that is the simulated phone's own work (drawing, PNG encoding, the raw copy).

    python benchmarks/android_io.py [--n 30] [--serial 127.0.0.1:PORT --adb-port 5037]
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median_ms(fn: Callable[[], object], n: int, warmup: int = 3) -> float:
    return paired_ms([fn], n, warmup)[0]


def paired_ms(fns: list[Callable[[], object]], n: int, warmup: int = 3) -> list[float]:
    """Median ms of each function, called in turn within every round so load drift hits all alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t)
    return [statistics.median(t) * 1000 for t in times]


def changing_ms(fns: list[Callable[[], object]], change: Callable[[], object], n: int) -> list[float]:
    """Like `paired_ms`, but the screen changes (untimed) before every timed call."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for i, fn in enumerate(fns):
            change()
            t = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t)
    return [statistics.median(t) * 1000 for t in times]


def phone_side(n: int = 20) -> list[tuple[str, float]]:
    """What the simphone itself spends on a new frame of the same Settings screen, in this process.

    Both paths pay the drawing; the PNG path adds the phone's PNG encoding, the raw path its
    copy out of the frame. Shown so the table says which costs are the simulated phone's and
    which are the transfer and decoding that guiagent controls.
    """
    from guiagent.envs.simphone.phone import Phone

    phone = Phone()
    phone.launch("com.android.settings")
    seq = itertools.count()

    def fresh(fn: Callable[[], object]) -> Callable[[], object]:
        def call() -> object:
            phone.state["settings"]["global"]["bench_seq"] = str(next(seq))
            return fn()
        return call

    draw, png, raw = paired_ms([fresh(phone.image), fresh(phone.png), fresh(phone.raw)], n)
    return [("simphone in-process: draw a new frame", draw),
            ("simphone in-process: draw + PNG encode (screencap -p)", png),
            ("simphone in-process: draw + raw copy (screencap)", raw)]


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not 5554 <= port <= 5585 and port != 5037:
            return port


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=30, help="timed repetitions per operation (median reported)")
    p.add_argument("--serial", help="use this attached device instead of starting a simphone")
    p.add_argument("--adb-port", type=int, help="adb server port with --serial (default 5037)")
    args = p.parse_args(argv)

    adb = shutil.which("adb")
    if adb is None:
        import adbutils

        adb = adbutils.adb_path()
    started: list[Callable[[], None]] = []
    try:
        if args.serial:
            serial, adb_port = args.serial, args.adb_port or 5037
        else:
            adb_port = free_port()
            subprocess.run([adb, "-P", str(adb_port), "start-server"], check=True, capture_output=True)
            started.append(lambda: subprocess.run([adb, "-P", str(adb_port), "kill-server"], capture_output=True))
            sim = subprocess.Popen([sys.executable, "-m", "guiagent", "simphone", "--port", "0"], cwd=ROOT,
                                   stdout=subprocess.PIPE, text=True)
            started.append(lambda: (sim.terminate(), sim.wait(10)))
            serial = sim.stdout.readline().strip().rsplit(" ", 1)[1]
            subprocess.run([adb, "-P", str(adb_port), "connect", serial], check=True, capture_output=True)
        env = dict(os.environ, ANDROID_ADB_SERVER_PORT=str(adb_port))
        run(args.n, adb, adb_port, serial, env, simphone=not args.serial)
    finally:
        for stop in reversed(started):
            stop()
    return 0


def run(n: int, adb: str, adb_port: int, serial: str, env: dict[str, str], simphone: bool) -> None:
    import adbutils
    from guiagent.envs.android import AndroidEnv
    from guiagent.tools.actions import Click
    from PIL import Image

    def sub(*a: str) -> bytes:
        return subprocess.run([adb, "-P", str(adb_port), "-s", serial, *a], capture_output=True, check=True,
                              env=env).stdout

    def sub_screenshot() -> Image.Image:
        img = Image.open(io.BytesIO(sub("exec-out", "screencap", "-p")))
        img.load()
        return img

    envs = {path: AndroidEnv(serial, adb_port=adb_port, screenshot=path) for path in ("png", "raw")}
    auto = AndroidEnv(serial, adb_port=adb_port)
    auto.observe()  # picks its path
    dev = adbutils.AdbClient(host="127.0.0.1", port=adb_port).device(serial)

    def adbutils_screenshot() -> Image.Image:
        img = dev.screenshot()
        img.load()
        return img

    x, y = 540, 40  # the status bar: a tap that changes nothing on the simphone
    shots = paired_ms([lambda: envs["png"].observe(), lambda: envs["raw"].observe(), auto.observe, sub_screenshot,
                       adbutils_screenshot], n)
    unchanged_path = auto.capture_path  # what auto used on the unchanged screen (it may switch later)
    raw_bytes = paired_ms([lambda: envs["png"]._service("exec:screencap -p", replay_safe=True),
                           lambda: sub("exec-out", "screencap", "-p")], n)
    taps = paired_ms([lambda: auto.execute(Click(coordinate=(x, y))),
                      lambda: sub("shell", "input", "tap", str(x), str(y)), lambda: dev.click(x, y)], n)
    changed: list[float] = []
    if simphone:
        # Toggling Wi-Fi on the Settings screen redraws its switch: every capture is of a
        # new screen, so the phone encodes again and nothing can be reused.
        auto.shell("am start -n com.android.settings/.Settings")
        flip = itertools.count()
        timed = [auto.observe, sub_screenshot, envs["png"].observe, envs["raw"].observe]

        def change() -> None:
            # Each timed call sees the switch the other way from its own previous call (its pixels
            # changed), and a state the phone has never rendered (no capture cache can answer).
            c = next(flip)
            auto.shell(f"settings put global wifi_on {(c // len(timed)) % 2}; settings put global bench_seq {c}")

        changed = changing_ms(timed, change, n)
    rows = [
        ("screenshot, PNG path (exec:screencap -p)", shots[0]),
        ("screenshot, raw path (exec:screencap)", shots[1]),
        (f"screenshot, auto (chose {unchanged_path})", shots[2]),
        ("subprocess `adb exec-out screencap -p` + decode", shots[3]),
        ("adbutils AdbDevice.screenshot() + load", shots[4]),
        *([("changing screen: screenshot, auto path", changed[0]),
           ("changing screen: subprocess exec-out + decode", changed[1]),
           ("changing screen: screenshot, PNG path", changed[2]),
           ("changing screen: screenshot, raw path", changed[3]),
           *phone_side()] if changed else []),
        ("screenshot bytes only, exec:screencap -p", raw_bytes[0]),
        ("screenshot bytes only, subprocess exec-out", raw_bytes[1]),
        ("tap, AndroidEnv.execute(click)", taps[0]),
        ("subprocess `adb shell input tap`", taps[1]),
        ("adbutils AdbDevice.click()", taps[2]),
    ]
    t = dict(rows)
    best = t[f"screenshot, auto (chose {unchanged_path})"]
    print(f"device {serial} (adb server 127.0.0.1:{adb_port}), median of {n}, ms\n")
    print("| operation | median ms |")
    print("|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")
    print("\n| comparison | ours ms | baseline ms | ratio (target <= 0.5) |")
    print("|---|---:|---:|---:|")
    comparisons = [
        ("screenshot, screen unchanged (decoded image)", best, t["subprocess `adb exec-out screencap -p` + decode"]),
        *([("screenshot, the screen changing before each", changed[0], changed[1])] if changed else []),
        ("screenshot (bytes, before decoding)", t["screenshot bytes only, exec:screencap -p"],
         t["screenshot bytes only, subprocess exec-out"]),
        ("tap", t["tap, AndroidEnv.execute(click)"], t["subprocess `adb shell input tap`"]),
        ("screenshot vs adbutils", best, t["adbutils AdbDevice.screenshot() + load"]),
        ("tap vs adbutils", t["tap, AndroidEnv.execute(click)"], t["adbutils AdbDevice.click()"]),
    ]
    for name, ours, base in comparisons:
        print(f"| {name} | {ours:.1f} | {base:.1f} | {ours / base:.2f} |")


if __name__ == "__main__":
    raise SystemExit(main())
