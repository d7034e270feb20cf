"""`guiagent doctor`: check that this machine can run the agent, and say how to fix what is missing.

Each check is a small function returning `CheckResult`s (OK / WARN / FAIL, a detail
line and the fix). Groups (desktop, Android, GPU, model) run in parallel threads,
each bounded by a deadline, and network probes time out within 2 s, so the whole
report takes seconds even on a machine where everything is missing.

Exit code policy: 0 when no check FAILs, 1 otherwise. A check FAILs when

* a part that what you asked for needs is missing or broken: ``--env desktop``
  needs an X11 display, mss and pyautogui; ``--env android[:SERIAL]`` needs the adb
  server and an authorized device; ``--model hf:…`` needs torch and complete model
  files; ``--model openai:…`` needs an endpoint that answers and serves a model; or
* something that is present is broken, whatever you asked for: a DISPLAY that cannot
  be opened, a device that is unauthorized or offline, a model folder with missing
  files, an endpoint that does not answer.

Parts that are absent and not asked for (no display when you did not pass
``--env desktop``, no adb server, the default model not downloaded yet) and
optional extras (CUDA, flash-attn, xdotool, ADBKeyboard) only WARN.

Nothing is started implicitly: the adb server is probed with a plain socket first
(adbutils would run ``adb start-server`` on a refused connection), and no model
weights are loaded (only the config).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

Status = Literal["OK", "WARN", "FAIL"]
NETWORK_TIMEOUT = 2.0  # seconds, every network probe
GROUP_DEADLINE = 60.0  # seconds a group may take: a bound for hangs (importing torch alone takes seconds)
ADB_IME = "com.android.adbkeyboard/.AdbIME"
XVFB_RUN = "xvfb-run -s '-screen 0 1920x1080x24' guiagent run ..."
# Bytes per parameter in bf16, plus headroom for activations and the KV cache.
_BF16_BYTES, _HEADROOM = 2, 1.25


class CheckResult(BaseModel):
    """The outcome of one check."""

    group: str
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class Target:
    """What the user asked about: makes the parts it needs required (FAIL instead of WARN)."""

    env: str | None = None  # "desktop" | "android" | None
    serial: str | None = None
    monitor: int | None = None
    model: str | None = None  # a model spec

    @property
    def model_scheme(self) -> str | None:
        return self.model.partition(":")[0] if self.model else None

    def severity(self, required: bool) -> Status:
        return "FAIL" if required else "WARN"


def _result(group: str) -> Callable[..., CheckResult]:
    def make(name: str, status: Status, detail: str, fix: str | None = None) -> CheckResult:
        return CheckResult(group=group, name=name, status=status, detail=detail, fix=fix)

    return make


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


@contextlib.contextmanager
def _quiet_stdout():
    # python-xlib prints an xauth warning to *stdout*; it would corrupt --json output.
    with contextlib.redirect_stdout(io.StringIO()):
        yield


# =========================================================================== desktop

DESKTOP = "Desktop"


def check_display(t: Target) -> tuple[CheckResult, bool]:
    """Which display server there is, and whether an X11 client can use it. Returns (result, usable)."""
    r = _result(DESKTOP)
    need = t.env == "desktop"
    if sys.platform == "darwin" or sys.platform.startswith("win"):
        return r("display", "OK", f"{platform.system()}: native screen capture and input (no X11 needed)"), True
    display = os.environ.get("DISPLAY", "")
    wayland = bool(os.environ.get("WAYLAND_DISPLAY")) or os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    if not display:
        if wayland:
            return r("display", t.severity(need), "Wayland session without an X11 DISPLAY: mss and pyautogui "
                     "only work on X11", "log in with an X11 session ('Ubuntu on Xorg' at the login screen), or "
                     f"run headless under Xvfb: {XVFB_RUN}"), False
        return r("display", t.severity(need), "no display server: DISPLAY is not set",
                 f"run headless under Xvfb: {XVFB_RUN} (apt install xvfb), or export DISPLAY=:0 from a desktop "
                 "session"), False
    xauth = os.environ.get("XAUTHORITY") or str(Path.home() / ".Xauthority")
    if not os.path.exists(xauth):
        # Xlib refuses to connect when the cookie file is missing; an empty one works for a
        # server without access control (Xvfb), which is what the desktop env does too.
        from guiagent.envs.xvfb import empty_xauthority

        os.environ["XAUTHORITY"] = empty_xauthority()
    try:
        import Xlib.display

        with _quiet_stdout():
            d = Xlib.display.Display(display)
    except Exception as exc:  # noqa: BLE001 - DisplayConnectionError, XauthError, socket errors
        return r("display", "FAIL", f"DISPLAY={display} cannot be opened ({_first_line(exc)})",
                 "start the X server or fix DISPLAY (ssh: use -X, or run under Xvfb: " + XVFB_RUN + ")"), False
    try:
        vendor = d.display.info.vendor
        screen = d.screen()
        size = f"{screen.width_in_pixels}x{screen.height_in_pixels}"
        if d.query_extension("XWAYLAND") is not None:
            return r("display", t.severity(need), f"{display} is XWayland ({size}): clicks and screenshots reach "
                     "X11 windows only", "log in with an X11 session, or run under Xvfb: " + XVFB_RUN), False
        if d.query_extension("XTEST") is None:
            return r("display", "FAIL", f"X11 {display} ({vendor}) lacks the XTEST extension needed for synthetic "
                     "input", "enable XTEST in the X server (Xvfb has it by default)"), False
    finally:
        d.close()
    return r("display", "OK", f"X11 {display} ({vendor}), root window {size}, XTEST present"), True


def check_capture(t: Target) -> tuple[CheckResult, tuple[int, int] | None]:
    """mss grabs a 1x1 region; returns the virtual screen's captured size."""
    r = _result(DESKTOP)
    try:
        import mss

        with mss.mss() as sct:
            m = sct.monitors[0]
            shot = sct.grab({"left": m["left"], "top": m["top"], "width": 1, "height": 1})
            monitors = [f"{x['width']}x{x['height']}+{x['left']}+{x['top']}" for x in sct.monitors[1:]]
            count = len(sct.monitors) - 1
    except Exception as exc:  # noqa: BLE001 - ScreenShotError and platform errors
        return r("screen capture", t.severity(t.env == "desktop"), f"mss cannot capture ({_first_line(exc)})",
                 "macOS: allow Screen Recording for the terminal in System Settings > Privacy; Linux: check "
                 "DISPLAY"), None
    n = len(monitors)
    if t.monitor is not None and not 0 <= t.monitor <= count:
        return r("screen capture", "FAIL", f"monitor {t.monitor} does not exist; this display has {count}: "
                 + ", ".join(f"{i} = {g}" for i, g in enumerate(monitors, 1)), "use --env desktop:N with N from "
                 "this list (0 = all monitors)"), (m["width"], m["height"])
    return r("screen capture", "OK", f"mss {_version('mss')} grabbed {shot.width}x{shot.height} px; {n} monitor"
             f"{'s' if n != 1 else ''}: {', '.join(monitors)}"), (m["width"], m["height"])


def check_input(t: Target) -> tuple[CheckResult, tuple[int, int] | None]:
    """pyautogui loads and reads the pointer; returns its (logical) screen size."""
    r = _result(DESKTOP)
    try:
        with _quiet_stdout():
            import pyautogui

            x, y = pyautogui.position()
            w, h = pyautogui.size()
    except Exception as exc:  # noqa: BLE001 - Xlib, DisplayConnectionError, missing accessibility rights
        return r("input", t.severity(t.env == "desktop"), f"pyautogui cannot read the pointer ({_first_line(exc)})",
                 "macOS: allow Accessibility for the terminal; Linux: pip install python-xlib, check DISPLAY"), None
    return r("input", "OK", f"pyautogui {_version('pyautogui')}: pointer at ({x}, {y}) on a {w}x{h} screen"), (w, h)


def check_scale(captured: tuple[int, int], logical: tuple[int, int]) -> CheckResult:
    """HiDPI: captured pixels per logical point (the Frame maps clicks through it)."""
    r = _result(DESKTOP)
    sx, sy = captured[0] / logical[0], captured[1] / logical[1]
    sizes = f"captured {captured[0]}x{captured[1]} px for {logical[0]}x{logical[1]} logical points"
    if abs(sx - sy) > 0.01:
        return r("HiDPI scale", "WARN", f"uneven scale {sx:.3g} x {sy:.3g} ({sizes}): capture and input disagree",
                 "make the process DPI-aware (Windows) or use one scale for every monitor")
    if abs(sx - 1) < 0.005:
        return r("HiDPI scale", "OK", f"1 ({sizes})")
    return r("HiDPI scale", "OK", f"{sx:g} ({sizes}); clicks are mapped through the Frame")


def check_xdotool() -> CheckResult:
    """xdotool types what pyautogui cannot (non-ASCII text)."""
    from guiagent.envs.desktop import XDOTOOL_INSTALL_HINT

    r = _result(DESKTOP)
    if not sys.platform.startswith("linux"):
        return r("xdotool", "OK", "not needed on this platform")
    exe = shutil.which("xdotool")
    if exe is None:
        return r("xdotool", "WARN", "not found: non-ASCII text (é, 中文, emoji) cannot be typed on the desktop",
                 XDOTOOL_INSTALL_HINT)
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=NETWORK_TIMEOUT).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return r("xdotool", "OK", f"{out.strip().splitlines()[0] if out.strip() else exe}: non-ASCII text is typed "
             "through it")


def desktop_checks(t: Target) -> list[CheckResult]:
    display, usable = check_display(t)
    out = [display]
    if usable:
        capture, captured = check_capture(t)
        inp, logical = check_input(t)
        out += [capture, inp]
        if captured and logical:
            out.append(check_scale(captured, logical))
    out.append(check_xdotool())
    return out


# =========================================================================== android

ANDROID = "Android"
START_ADB = ("adb start-server (Debian/Ubuntu: apt install adb; elsewhere: Android SDK platform-tools); "
             "for the simulated phone: guiagent simphone, then adb connect 127.0.0.1:PORT")


def _adb_address() -> tuple[str, int]:
    # the same variables adb and adbutils read
    host = os.environ.get("ANDROID_ADB_SERVER_HOST") or os.environ.get("ANDROID_ADB_SERVER_ADDRESS") or "127.0.0.1"
    port = os.environ.get("ANDROID_ADB_SERVER_PORT", "5037")
    return host, int(port) if port.isdigit() else 5037


def check_adb_server(t: Target) -> tuple[CheckResult, Any]:
    """Whether an adb server answers; never starts one. Returns (result, adbutils client or None)."""
    r = _result(ANDROID)
    need = t.env == "android"
    host, port = _adb_address()
    try:
        with socket.create_connection((host, port), timeout=NETWORK_TIMEOUT):
            pass
    except OSError as exc:
        why = "connection refused" if isinstance(exc, ConnectionRefusedError) else _first_line(exc)
        return r("adb server", t.severity(need), f"no adb server on {host}:{port} ({why})", START_ADB), None
    try:
        import adbutils

        client = adbutils.AdbClient(host=host, port=port, socket_timeout=NETWORK_TIMEOUT)
        version = client.server_version()
    except Exception as exc:  # noqa: BLE001 - AdbError, AdbTimeout, socket errors
        return r("adb server", "FAIL", f"{host}:{port} accepts connections but does not answer as adb "
                 f"({_first_line(exc)})", "adb kill-server && adb start-server"), None
    return r("adb server", "OK", f"protocol {version} on {host}:{port}"), client


_STATE_FIX = {
    "unauthorized": "unlock the phone and accept 'Allow USB debugging?'; no prompt: revoke USB debugging "
                    "authorizations in Developer options, then adb kill-server && adb start-server",
    "offline": "adb reconnect offline (or replug the cable; over TCP: adb disconnect SERIAL && adb connect SERIAL)",
    "no permissions": "add a udev rule for the phone (Debian: apt install android-sdk-platform-tools-common) "
                      "and replug",
}


def check_devices(t: Target, client: Any) -> tuple[list[CheckResult], list[Any]]:
    """The device list as a whole: (problems with it, the devices to check one by one)."""
    r = _result(ANDROID)
    need = t.env == "android"
    try:
        devices = client.list()
    except Exception as exc:  # noqa: BLE001
        return [r("devices", "FAIL", f"cannot list devices ({_first_line(exc)})", "adb kill-server && adb "
                  "start-server")], []
    if not devices:
        return [r("devices", t.severity(need), "no device attached",
                  "enable USB debugging and plug the phone in; Wi-Fi/emulator: adb connect HOST:PORT; simulated "
                  "phone: guiagent simphone")], []
    out = []
    if t.serial:
        if t.serial not in {d.serial for d in devices}:
            out.append(r("devices", "FAIL", f"{t.serial} is not attached; attached: "
                         + ", ".join(f"{d.serial} ({d.state})" for d in devices),
                         f"adb connect {t.serial} (network devices) or pick one of the serials above"))
        devices = [d for d in devices if d.serial == t.serial]
    online = sum(1 for d in devices if d.state == "device")
    if need and not t.serial and online > 1:
        out.append(r("devices", "WARN", f"{online} devices online; `--env android` needs to know which",
                     "name one: --env android:SERIAL"))
    return out, devices


def check_device_state(device: Any) -> CheckResult:
    """A device is usable only in state "device" (not unauthorized, offline, recovery ...)."""
    r = _result(ANDROID)
    if device.state == "device":
        return r("device", "OK", f"{device.serial}: online")
    return r("device", "FAIL", f"{device.serial}: state {device.state!r}",
             _STATE_FIX.get(device.state, "reboot the phone into normal mode (adb reboot)"))


def check_device_screen(client: Any, serial: str) -> CheckResult:
    """`wm size`: physical size and any override."""
    r = _result(ANDROID)
    try:
        text = client.device(serial).shell("wm size", timeout=NETWORK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        return r("screen size", "FAIL", f"{serial}: `wm size` failed ({_first_line(exc)})", f"adb -s {serial} reconnect")
    sizes = dict(re.findall(r"(Physical|Override) size:\s*(\d+x\d+)", text))
    if "Physical" not in sizes:
        return r("screen size", "FAIL", f"{serial}: `wm size` said {text.strip()[:120]!r}", "check the device is booted")
    extra = f" (override {sizes['Override']}: screenshots and taps use it)" if "Override" in sizes else ""
    return r("screen size", "OK", f"{serial}: {sizes['Physical']}{extra}")


def check_device_ime(client: Any, serial: str) -> CheckResult:
    """An input method that can type non-ASCII text (ADBKeyboard) is enabled."""
    r = _result(ANDROID)
    try:
        text = client.device(serial).shell("ime list -s", timeout=NETWORK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        return r("input method", "WARN", f"{serial}: `ime list -s` failed ({_first_line(exc)})")
    if ADB_IME in text.split():
        return r("input method", "OK", f"{serial}: ADBKeyboard enabled: non-ASCII text can be typed")
    return r("input method", "WARN", f"{serial}: ADBKeyboard is not enabled: only ASCII text can be typed "
             "(`adb shell input text` cannot type é or 中文)",
             f"install ADBKeyboard.apk (github.com/senzhk/ADBKeyBoard): adb -s {serial} install ADBKeyboard.apk && "
             f"adb -s {serial} shell ime enable {ADB_IME}")


def android_checks(t: Target) -> list[CheckResult]:
    server, client = check_adb_server(t)
    out = [server]
    if client is None:
        return out
    problems, devices = check_devices(t, client)
    out += problems
    for d in devices:
        out.append(check_device_state(d))
        if d.state == "device":
            out += [check_device_screen(client, d.serial), check_device_ime(client, d.serial)]
    return out


# =========================================================================== GPU

GPU = "GPU"
_GIB = 1024**3


def _params_b(spec: str | None) -> float | None:
    """Billions of parameters from a model name such as Qwen2.5-VL-7B-Instruct (None when not stated)."""
    m = re.search(r"(\d+(?:\.\d+)?)[bB](?![a-zA-Z])", spec or "")
    return float(m.group(1)) if m else None


def gpu_checks(t: Target) -> list[CheckResult]:
    r = _result(GPU)
    local = t.model_scheme in (None, "hf")  # only an in-process model uses this machine's GPU
    need = t.model_scheme == "hf"
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - ImportError, a broken CUDA runtime (OSError)
        return [r("torch", t.severity(need) if local else "OK",
                  f"cannot import torch ({_first_line(exc)})" + ("" if local else "; not needed: the model runs on "
                                                                  "the server"),
                  "pip install torch (CUDA builds: https://pytorch.org/get-started/locally/)" if local else None)]
    out = [r("torch", "OK", f"torch {torch.__version__}")]
    if not torch.cuda.is_available():
        if not local:
            out.append(r("CUDA", "OK", "no CUDA; not needed: the model runs on the server"))
            return out
        out.append(r("CUDA", "WARN", "no CUDA GPU: hf: models run on the CPU (a 7B model takes minutes per step)",
                     "install an NVIDIA driver and a CUDA build of torch, or serve the model with vLLM on a GPU "
                     "machine and use --model openai:http://HOST:8000/v1"))
        out.append(r("flash-attn", "OK", "not used without CUDA"))
        return out
    n = torch.cuda.device_count()
    names = sorted({torch.cuda.get_device_name(i) for i in range(n)})
    out.append(r("CUDA", "OK", f"CUDA {torch.version.cuda}, {n} GPU{'s' if n != 1 else ''}: {', '.join(names)}"))
    billions = _params_b(t.model or "Qwen2.5-VL-7B") if local else None
    want = billions * 1e9 * _BF16_BYTES * _HEADROOM / _GIB if billions else None
    free_total = 0.0
    for i in range(n):
        free, total = torch.cuda.mem_get_info(i)
        free_total += free / _GIB
        out.append(r(f"GPU {i} memory", "OK", f"{free / _GIB:.1f} of {total / _GIB:.1f} GiB free"))
    if want is not None and free_total < want:
        out.append(r("GPU memory", "WARN", f"a {billions:g}B model in bf16 needs about {want:.0f} GiB; "
                     f"{free_total:.1f} GiB are free on {n} GPU{'s' if n != 1 else ''}",
                     "free GPU memory, use more GPUs (they are used together), or a smaller model"))
    if importlib.util.find_spec("flash_attn") is not None:
        out.append(r("flash-attn", "OK", f"flash-attn {_version('flash-attn')}: attention uses flash_attention_2"))
    else:
        out.append(r("flash-attn", "WARN", "not installed: attention falls back to sdpa (slower and more memory on "
                     "long prompts)", "pip install flash-attn --no-build-isolation"))
    return out


# =========================================================================== model

MODEL = "Model"
_TOKENIZER_SETS = (("tokenizer.json",), ("vocab.json", "merges.txt"))


def _hf_files(folder: Path) -> list[str]:
    """What a Qwen2.5-VL checkpoint folder lacks (empty when complete)."""
    missing = [f for f in ("config.json", "preprocessor_config.json") if not (folder / f).is_file()]
    if not any(all((folder / f).is_file() for f in s) for s in _TOKENIZER_SETS):
        missing.append("tokenizer.json (or vocab.json + merges.txt)")
    if not (folder / "tokenizer_config.json").is_file():
        missing.append("tokenizer_config.json")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError):
            return [*missing, "a readable model.safetensors.index.json"]
        absent = [s for s in shards if not (folder / s).is_file()]
        if absent:
            missing.append(f"{len(absent)} of {len(shards)} weight shards ({absent[0]}…)")
    elif not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        missing.append("weights (*.safetensors)")
    return missing


def _hf_folder(path: str) -> tuple[Path | None, str]:
    """(folder, where it was found) for a local path or a hub id in the cache; never downloads."""
    local = Path(path).expanduser()
    if local.exists():
        return local, "local folder"
    if path.startswith(("/", ".", "~")) or path.count("/") > 1:
        return None, "no such folder"
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path, local_files_only=True)), "HF cache"
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError, a malformed id
        return None, "not in the HF cache"


def check_hf_model(t: Target, path: str, required: bool) -> list[CheckResult]:
    r = _result(MODEL)
    name = "model files"
    folder, where = _hf_folder(path)
    if folder is None:
        if where == "no such folder":
            return [r(name, "FAIL", f"hf:{path}: no such folder", "give a checkpoint folder or a hub id like "
                      "Qwen/Qwen2.5-VL-7B-Instruct")]
        return [r(name, t.severity(required), f"hf:{path} is {where} (HF_HOME={_hf_home()})",
                  f"hf download {path}  (or give a local folder: --model hf:/path/to/checkpoint)")]
    missing = _hf_files(folder)
    if missing:
        fix = (f"hf download {path}  (resumes the download)" if where == "HF cache"
               else "copy the complete checkpoint (config, processor, tokenizer and weight files)")
        return [r(name, "FAIL", f"hf:{path}: {where} {folder} lacks: {'; '.join(missing)}", fix)]
    at = "" if where == "local folder" else f" (HF cache: {folder})"
    out = [r(name, "OK", f"hf:{path}{at}: config, processor, tokenizer and weights present")]
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - ValueError (unknown model_type), OSError, JSON errors
        out.append(r("model config", "FAIL", f"transformers {_version('transformers')} cannot load the config "
                     f"({_first_line(exc)})", "upgrade transformers (pip install -U 'transformers>=5.24,<6')"))
        return out
    kind = getattr(config, "model_type", "?")
    if kind != "qwen2_5_vl":
        out.append(r("model config", "WARN", f"model_type {kind!r}: the prompt and parser are Qwen2.5-VL's",
                     "use a Qwen2.5-VL checkpoint, or expect other models to answer in another format"))
    else:
        text = getattr(config, "text_config", config)
        layers, hidden = getattr(text, "num_hidden_layers", "?"), getattr(text, "hidden_size", "?")
        out.append(r("model config", "OK", f"{kind}: {layers} layers, hidden size {hidden}"))
    return out


def _hf_home() -> str:
    return os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"


def check_openai_model(url: str) -> list[CheckResult]:
    """GET {base}/models with a short timeout: the served models and their context limit."""
    from guiagent.model.base import ModelError
    from guiagent.model.image import PixelBudget
    from guiagent.model.openai import OpenAIModel

    r = _result(MODEL)
    try:
        client = OpenAIModel(url, timeout=NETWORK_TIMEOUT, max_retries=0)
        entries = client.models()
    except ModelError as exc:
        return [r("endpoint", "FAIL", _first_line(exc),
                  "start the server (e.g. vllm serve Qwen/Qwen2.5-VL-7B-Instruct --port 8000 "
                  "--max-model-len 32768) or fix the URL; the base URL usually ends in /v1")]
    base = client.base_url
    if not entries:
        return [r("endpoint", "FAIL", f"openai:{base} answers but lists no model", "load a model on the server")]
    out = [r("endpoint", "OK", f"openai:{base} serves {len(entries)} model{'s' if len(entries) != 1 else ''}: "
             + ", ".join(str(e["id"]) for e in entries[:8]))]
    # One 1920x1080 screenshot at the default pixel budget.
    per_image = PixelBudget().image_tokens(1920, 1080)
    for e in entries[:8]:
        mml = e.get("max_model_len") or e.get("context_length")
        if not isinstance(mml, (int, float)) or mml <= 0:
            out.append(r("context", "OK", f"{e['id']}: max_model_len not reported"))
            continue
        fits = int(mml) // per_image
        status: Status = "OK" if fits >= 1 else "FAIL"
        out.append(r("context", status, f"{e['id']}: max_model_len {int(mml)}, about {fits} 1920x1080 "
                     f"screenshot{'s' if fits != 1 else ''} ({per_image} tokens each at the default budget)",
                     None if fits >= 1 else "restart the server with --max-model-len 32768, or lower --max-pixels"))
    if len(entries) > 1:
        out.append(r("served model", "WARN", "several models: `guiagent run` needs to know which",
                     "pass --served-model NAME to guiagent run"))
    return out


def check_file_model(spec: str) -> list[CheckResult]:
    """scripted:FILE / replay:DIR load (they are cheap)."""
    from guiagent.model.scripted import ScriptedModel
    from guiagent.model.spec import load_model

    r = _result(MODEL)
    try:
        model = load_model(spec)
    except (ValueError, OSError) as exc:
        return [r("model", "FAIL", _first_line(exc), "fix the path")]
    replies = len(model.replies) if isinstance(model, ScriptedModel) else 0  # replay: is a ScriptedModel too
    return [r("model", "OK", f"{spec}: {replies} scripted replies")]


def model_checks(t: Target) -> list[CheckResult]:
    from guiagent.model.spec import DEFAULT_MODEL

    spec = t.model or DEFAULT_MODEL
    scheme, _, rest = spec.partition(":")
    if scheme == "hf":
        return check_hf_model(t, rest, required=t.model is not None)
    if scheme == "openai":
        return check_openai_model(rest)
    return check_file_model(spec)


# =========================================================================== running and output

GROUPS: list[tuple[str, Callable[[Target], list[CheckResult]]]] = [
    (DESKTOP, desktop_checks), (ANDROID, android_checks), (GPU, gpu_checks), (MODEL, model_checks),
]


def run_checks(target: Target, deadline: float = GROUP_DEADLINE) -> list[CheckResult]:
    """Every group in its own daemon thread (a hung X server or adb cannot stall the report)."""
    results: dict[str, list[CheckResult]] = {}

    def run(group: str, fn: Callable[[Target], list[CheckResult]]) -> None:
        try:
            results[group] = fn(target)
        except Exception as exc:  # noqa: BLE001 - a bug in one check must not hide the others
            results[group] = [CheckResult(group=group, name="checks", status="FAIL",
                                          detail=f"the check itself failed: {type(exc).__name__}: {_first_line(exc)}")]

    threads = [threading.Thread(target=run, args=g, daemon=True, name=f"doctor-{g[0]}") for g in GROUPS]
    for th in threads:
        th.start()
    for th in threads:
        th.join(deadline)
    out: list[CheckResult] = []
    for group, _ in GROUPS:
        out += results.get(group) or [CheckResult(group=group, name="checks", status="FAIL",
                                                  detail=f"no answer within {deadline:g} s")]
    return out


def exit_code(results: list[CheckResult]) -> int:
    return 1 if any(c.status == "FAIL" for c in results) else 0


_COLORS = {"OK": "\033[32m", "WARN": "\033[33m", "FAIL": "\033[31m"}


def format_table(results: list[CheckResult], color: bool = False) -> str:
    """Aligned text: a header per group, then STATUS  NAME  DETAIL, with the fix under it."""
    width = max((len(c.name) for c in results), default=10)
    lines = [f"guiagent doctor · {platform.system()} {platform.machine()} · Python {platform.python_version()} · "
             f"guiagent {_version('guiagent')}"]
    group = None
    for c in results:
        if c.group != group:
            group = c.group
            lines += ["", group]
        tag = f"{c.status:<4}"
        if color:
            tag = f"{_COLORS[c.status]}{tag}\033[0m"
        lines.append(f"  {tag}  {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"  {'':<4}  {'':<{width}}  fix: {c.fix}")
    counts = {s: sum(1 for c in results if c.status == s) for s in ("FAIL", "WARN", "OK")}
    lines += ["", " · ".join(f"{n} {s}" for s, n in counts.items())
              + (" — nothing fails" if not counts["FAIL"] else " — exit code 1")]
    return "\n".join(lines)


__all__ = ["CheckResult", "Target", "exit_code", "format_table", "run_checks"]
