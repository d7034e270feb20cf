"""`dumpsys SERVICE`: the simulated phone's service reports (window, activity, display, input, ...).

Only the lines that clients parse are produced, in the formats real devices print them.
"""

from __future__ import annotations

from guiagent.envs.simphone.command import CommandFn, Context, Result
from guiagent.envs.simphone.package_cmds import component as _component
from guiagent.envs.simphone.package_cmds import dump_package
from guiagent.envs.simphone.phone import Phone

_SERVICES = ("activity", "battery", "display", "input", "input_method", "package", "power", "window")


def _window(phone: Phone) -> str:
    r = phone.rotation()
    nw, nh = phone.natural_size()
    dw, dh = phone.display_size()
    pkg, act = _component(phone)
    _, full = _component(phone, full=True)
    keyboard = phone.keyboard_visible()
    lines = [
        "WINDOW MANAGER WINDOWS (dumpsys window windows)",
        f"  Window #0 Window{{5e1a0c2 u0 {pkg}/{full}}}:",
        "    mDisplayId=0 rootTaskId=12 mSession=Session{a1b2c3 4321:u0a10123} mClient=android.os.BinderProxy@1",
        f"    mFrame=[0,0][{dw},{dh}]",
    ]
    if keyboard:
        lines += ["  Window #1 Window{7c3d9e1 u0 InputMethod}:", "    mDisplayId=0 mIsImWindow=true"]
    lines += [
        "",
        f"  mCurrentFocus=Window{{5e1a0c2 u0 {pkg}/{full}}}",
        f"  mFocusedApp=ActivityRecord{{9f8e7d6 u0 {pkg}/{act} t12}}",
        f"  mInputMethodTarget=Window{{5e1a0c2 u0 {pkg}/{full}}}" if keyboard else "",
        "",
        "WINDOW MANAGER DISPLAY CONTENTS (dumpsys window displays)",
        "  Display: mDisplayId=0 rootTasks=1",
        f"    init={phone.m.width}x{phone.m.height} {phone.props['ro.sf.lcd_density']}dpi "
        f"base={nw}x{nh} cur={dw}x{dh} app={dw}x{dh}",
        f"    mCurrentRotation=ROTATION_{90 * r}",
        f"    mRotation={r}",
    ]
    return "\n".join(lines) + "\n"


def _report(phone: Phone, service: str) -> str | None:
    r = phone.rotation()
    dw, dh = phone.display_size()
    pkg, act = _component(phone)
    density = phone.props["ro.sf.lcd_density"]
    if service == "window":
        return _window(phone)
    if service == "activity":
        return (f"  mResumedActivity: ActivityRecord{{9f8e7d6 u0 {pkg}/{act} t12}}\n"
                f"  ResumedActivity: ActivityRecord{{9f8e7d6 u0 {pkg}/{act} t12}}\n"
                f"TASK 10012:{pkg} id=12 userId=0\n"
                f"  ACTIVITY {pkg}/{act} 9f8e7d6 pid=4321\n")
    if service == "display":
        return (f"DISPLAY MANAGER (dumpsys display)\n"
                f"  mViewports=[DisplayViewport{{type=INTERNAL, valid=true, isActive=true, displayId=0, "
                f"uniqueId='local:0', physicalPort=0, orientation={r}, logicalFrame=Rect(0, 0 - {dw}, {dh}), "
                f"physicalFrame=Rect(0, 0 - {dw}, {dh}), deviceWidth={dw}, deviceHeight={dh}}}]\n"
                f"  mCurrentOrientation={r}\n"
                f"  mOverrideDisplayInfo=DisplayInfo{{\"Built-in Screen\", displayId 0, real {dw} x {dh}, "
                f"rotation {r}, density {density}}}\n")
    if service == "input":
        return (f"INPUT MANAGER (dumpsys input)\n  Viewport INTERNAL: displayId=0, uniqueId=local:0, port=0, "
                f"orientation={r}, logicalFrame=[0, 0, {dw}, {dh}]\n"
                f"    SurfaceOrientation: {r}\n")
    if service == "input_method":
        shown = "true" if phone.keyboard_visible() else "false"
        return (f"Input Method Manager Service state:\n  mCurMethodId={phone.current_ime()}\n"
                f"  mInputShown={shown}\n  mIsInputViewShown={shown}\n"
                f"  mServedView={'EditText' if phone.focused_field() else 'null'}\n")
    if service == "power":
        on = phone.state["screen_on"]
        return (f"POWER MANAGER (dumpsys power)\n  mWakefulness={'Awake' if on else 'Asleep'}\n"
                f"  mInteractive={'true' if on else 'false'}\n"
                f"  Display Power: state={'ON' if on else 'OFF'}\n")
    if service == "battery":
        return ("Current Battery Service state:\n  AC powered: true\n  USB powered: false\n"
                "  status: 5\n  health: 2\n  present: true\n  level: 100\n  scale: 100\n")
    return None


def dumpsys(ctx: Context, args: list[str], stdin: bytes) -> Result:
    service = args[0] if args else ""
    if service == "package":
        return dump_package(ctx.phone, args[1] if len(args) > 1 else "")
    if not service:
        return ("Currently running services:\n" + "".join(f"  {s}\n" for s in _SERVICES)).encode(), b"", 0
    report = _report(ctx.phone, service)
    if report is None:
        return f"Can't find service: {service}\n".encode(), b"", 0
    return report.encode(), b"", 0


COMMANDS: dict[str, CommandFn] = {"dumpsys": dumpsys}
