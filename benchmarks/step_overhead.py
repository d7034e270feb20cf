"""Per-step framework overhead of the desktop agent, without the model's own time.

Runs on a private Xvfb at 1920x1080 (envs.xvfb) with the Tk logger painting a mark
at every click, so every step really changes the screen. Three parts:

A. Phases of one step, timed one by one over 50 scripted replies: capture
   (DesktopEnv.observe, settle off), prompt (dialect messages + chat-template
   render), parse (<tool_call> reply -> action), map (Frame.action_to_screen),
   execute (DesktopEnv.execute of the left_click). Target: median total <= 20 ms.
   Baseline, measured in the same run: the naive path many agent scripts use,
   mss's ``.rgb`` -> ``Image.frombytes`` and ``pyautogui.click`` with its default
   ``PAUSE = 0.1``.
B. The real loop (agent.loop.Agent + ScriptedModel, 50 replies: 49 clicks and a
   terminate) with settling off, with recording on and off: the step wall time.
C. What settling and recording cost: the loop's Settle vs DesktopEnv(settle=True),
   and PNG encoding of one 1920x1080 screenshot (why recording stays off the hot path).

Usage: python benchmarks/step_overhead.py [--steps 50] [--width 1920 --height 1080]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from guiagent.envs.xvfb import start_xvfb, xvfb_available  # noqa: E402

TK_LOGGER = ROOT / "tests" / "apps" / "tk_logger.py"
TARGET_MS = 20.0


def ms(v: float) -> float:
    return v * 1000.0


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def row(name: str, values: list[float], note: str = "") -> str:
    return f"  {name:<30} {ms(statistics.median(values)):>9.2f} {ms(pct(values, 0.95)):>9.2f}  {note}"


def header(title: str) -> None:
    print(f"\n{title}\n  {'phase':<30} {'median ms':>9} {'p95 ms':>9}")


def replies(n: int, mw: int, mh: int, offset: int = 0) -> list[str]:
    """n-1 left clicks spread over the model image, then terminate.

    Each run passes its own `offset` so no click lands on an earlier run's mark (the
    loop's stall rule stops a run whose clicks leave the screen unchanged).
    """
    out = []
    for i in range(n - 1):
        x = 40 + (i * 97 + offset * 11) % (mw - 80)
        y = 60 + (i * 61 + offset * 5) % (mh - 120)
        out.append('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
                   f'"coordinate": [{x}, {y}]}}}}\n</tool_call>')
    out.append('<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n'
               "</tool_call>")
    return out


def start_app(server, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(TK_LOGGER), str(log), "--paint"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=server.child_env())
    deadline = time.monotonic() + 20
    while '"ready"' not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the Tk logger did not start")
        time.sleep(0.02)
    return proc


def part_a(env, steps: int) -> tuple[float, float]:
    import mss
    import pyautogui
    from guiagent.model.base import ImagePart
    from guiagent.model.image import PixelBudget
    from guiagent.model.qwen25vl import Qwen25VL
    from guiagent.tools.frame import Frame
    from PIL import Image

    dialect, budget = Qwen25VL(), PixelBudget()
    shot = env.observe()
    mw, mh = dialect.image_size(shot.image.width, shot.image.height, budget)
    script = replies(steps + 1, mw, mh, offset=1)[:steps]
    phases: dict[str, list[float]] = {k: [] for k in ("capture", "prompt", "parse", "map", "execute", "total")}
    for reply in script:
        t0 = time.perf_counter()
        shot = env.observe()
        t1 = time.perf_counter()
        frame = Frame.build(shot, dialect.image_size(shot.image.width, shot.image.height, budget))
        msgs = dialect.messages("Click every button.", "computer_use", ImagePart(image=shot.image,
                                size=frame.model_size), [])
        dialect.render(msgs)
        t2 = time.perf_counter()
        action = dialect.parse(reply, "computer_use")[0].action
        t3 = time.perf_counter()
        screen_action = frame.action_to_screen(action)
        t4 = time.perf_counter()
        env.execute(screen_action)
        t5 = time.perf_counter()
        for k, v in zip(("capture", "prompt", "parse", "map", "execute", "total"),
                        (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0), strict=True):
            phases[k].append(v)

    # Baseline, same machine and screen: mss .rgb -> frombytes, pyautogui.click at its default PAUSE.
    base: dict[str, list[float]] = {"capture": [], "execute": [], "total": []}
    saved_pause = pyautogui.PAUSE
    pyautogui.PAUSE = 0.1
    try:
        with mss.MSS() as sct:
            mon = sct.monitors[0]
            for i in range(min(steps, 20)):
                t0 = time.perf_counter()
                g = sct.grab(mon)
                Image.frombytes("RGB", g.size, g.rgb)
                t1 = time.perf_counter()
                pyautogui.click(100 + 7 * i, 900)
                t2 = time.perf_counter()
                base["capture"].append(t1 - t0)
                base["execute"].append(t2 - t1)
                base["total"].append(t2 - t0)
    finally:
        pyautogui.PAUSE = saved_pause

    header(f"A. one step, phase by phase ({steps} scripted left_click replies; screen "
           f"{shot.image.width}x{shot.image.height}, model image {mw}x{mh})")
    for k in ("capture", "prompt", "parse", "map", "execute"):
        print(row(k, phases[k]))
    print(row("total (ours)", phases["total"]))
    print(row("baseline capture (mss .rgb)", base["capture"]))
    print(row("baseline click (PAUSE=0.1)", base["execute"]))
    print(row("baseline total", base["total"]))
    ours, theirs = statistics.median(phases["total"]), statistics.median(base["total"])
    verdict = "PASS" if ms(ours) <= TARGET_MS else "FAIL"
    print(f"  target: median total <= {TARGET_MS:.0f} ms -> {ms(ours):.2f} ms {verdict}; "
          f"baseline / ours = {theirs / ours:.1f}x")
    return ours, theirs


def part_b(env, steps: int, settle, record: bool, offset: int, env_settle: bool = False) -> dict[str, list[float]]:
    from guiagent.agent.loop import Agent
    from guiagent.model.scripted import ScriptedModel

    shot = env.observe()
    mw, mh = ScriptedModel([]).image_size(shot.image.width, shot.image.height)
    model = ScriptedModel(replies(steps, mw, mh, offset))
    env.settle = env_settle
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(model, env, max_steps=steps + 5, out_dir=Path(tmp) / "run" if record else None,
                      settle=settle)
        t0 = time.perf_counter()
        result = agent.run("Click every button.")
        wall = time.perf_counter() - t0
    env.settle = False
    if result.status != "success":
        raise SystemExit(f"the scripted run ended with {result.status}: {result.reason}")
    out: dict[str, list[float]] = {}
    for st in result.trajectory.steps:
        for k, v in st.durations.items():
            out.setdefault(k, []).append(v)
        wall = st.ended_at - st.started_at
        out.setdefault("step wall", []).append(wall)
        out.setdefault("overhead (wall-infer-settle)", []).append(
            wall - st.durations.get("infer", 0.0) - st.durations.get("settle", 0.0))
    out["run wall / step"] = [wall / len(result.trajectory.steps)]
    return out


def print_b(title: str, data: dict[str, list[float]], keys: list[str]) -> None:
    header(title)
    for k in keys:
        if k in data:
            print(row(k, data[k]))


def part_c_png(env) -> None:
    img = env.observe().image
    header(f"C2. PNG encoding of one {img.width}x{img.height} screenshot (10 runs)")
    for level in (6, 1):
        times = []
        for _ in range(10):
            buf = io.BytesIO()
            t = time.perf_counter()
            img.save(buf, format="PNG", compress_level=level)
            times.append(time.perf_counter() - t)
        print(row(f"PNG compress_level={level}", times, f"{len(buf.getvalue()) // 1024} KiB"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    args = ap.parse_args()
    if not xvfb_available():
        print("needs Xvfb (apt install xvfb)", file=sys.stderr)
        return 2
    server = start_xvfb(args.width, args.height)
    os.environ.update(server.environ())
    os.environ.pop("WAYLAND_DISPLAY", None)
    os.environ.pop("XDG_SESSION_TYPE", None)
    tmp = Path(tempfile.mkdtemp(prefix="guiagent-bench-"))
    log = tmp / "events.jsonl"
    log.touch()
    app = start_app(server, log)
    try:
        from guiagent.envs.desktop import DesktopEnv

        env = DesktopEnv(settle=False, failsafe=False)
        print(f"display {server.display} {args.width}x{args.height}, python {sys.version.split()[0]}, "
              f"{os.cpu_count()} CPUs")
        part_a(env, args.steps)

        from guiagent.agent.loop import Settle

        # Settling cannot be switched off in a real run: the loop's stall rule needs to see each
        # click's mark. B uses the shortest settle (no minimum wait, 5 ms polls) and reports the
        # step wall time less infer and settle as the framework's overhead.
        quick = Settle(min_wait=0.0, interval=0.005, max_wait=0.5)
        keys = ["capture", "prompt", "infer", "parse", "execute", "settle", "step wall",
                "overhead (wall-infer-settle)"]
        print_b(f"B1. agent loop, {args.steps} replies, quick settle, recording off",
                part_b(env, args.steps, quick, False, 2), keys)
        print_b(f"B2. agent loop, {args.steps} replies, quick settle, recording on (PNG + JSON in a thread)",
                part_b(env, args.steps, quick, True, 3), keys)
        short = ["capture", "execute", "settle", "step wall"]
        print_b(f"C1a. agent loop with its default Settle() (env settle off), {args.steps // 2} replies",
                part_b(env, args.steps // 2, Settle(), False, 4), short)
        print_b(f"C1b. agent loop with DesktopEnv(settle=True), loop settle off, {args.steps // 2} replies",
                part_b(env, args.steps // 2, Settle(enabled=False), False, 5, env_settle=True), short)
        part_c_png(env)
        clicks = sum(1 for line in log.read_text().splitlines() if json.loads(line)["type"] == "press")
        print(f"\n(the Tk app logged {clicks} presses)")
        env.close()
    finally:
        if app.poll() is None:
            app.stdin.close()
            app.wait(timeout=10)
        server.stop()
        log.unlink(missing_ok=True)
        tmp.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
