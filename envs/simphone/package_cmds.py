"""The simulated phone's app and package commands: am, monkey, pm and content (providers)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from guiagent.envs.simphone.apps import App
from guiagent.envs.simphone.command import CommandFn, Context, Result, b
from guiagent.envs.simphone.phone import Phone
from guiagent.envs.simphone.state import ADB_IME, LATIN_IME, LAUNCHER

Intent = dict[str, Any]
Row = dict[str, Any]
_THIRD_PARTY = {"com.simphone.notes", "com.android.adbkeyboard"}
_CLEARED_TABLES = {"com.simphone.notes": "notes", "com.android.deskclock": "alarms",
                   "com.android.providers.contacts": "contacts"}


def parse_intent(args: list[str]) -> Intent:
    """am-style intent options: -a -c -n -d -p, extras (--es/--ei/--ez/--eia), flags."""
    intent: Intent = {"extras": {}}
    it = iter(args)
    for a in it:
        if a == "-a":
            intent["action"] = next(it)
        elif a == "-c":
            intent["category"] = next(it)
        elif a == "-n":
            intent["component"] = next(it)
        elif a == "-d":
            intent["data"] = next(it)
        elif a == "-p":
            intent["package"] = next(it)
        elif a in ("-f", "--user", "-t", "--receiver-permission"):
            next(it, None)
        elif a in ("--es", "--ei", "--ez", "--el", "--ef", "--eu"):
            key, value = next(it), next(it)
            if a == "--ez":
                intent["extras"][key] = value.lower() == "true"
            else:
                intent["extras"][key] = {"--ei": int, "--el": int, "--ef": float}.get(a, str)(value)
        elif a in ("--eia", "--esa"):
            key, value = next(it), next(it)
            intent["extras"][key] = value.split(",")
        elif a in ("-W", "-S", "-R", "--activity-clear-task", "--activity-new-task", "--activity-clear-top"):
            intent[a] = True
        elif not a.startswith("-") and "data" not in intent and "package" not in intent:
            # A bare argument: a URI or, for the package queries, a package name.
            intent["data"] = a
    return intent


def _intent_desc(intent: Intent) -> str:
    parts = []
    if intent.get("action"):
        parts.append(f"act={intent['action']}")
    if intent.get("category"):
        parts.append(f"cat=[{intent['category']}]")
    if intent.get("component"):
        parts.append(f"cmp={intent['component']}")
    return " ".join(parts)


# ------------------------------------------------------------ activities


def _resolve_component(phone: Phone, comp: str) -> App | str | None:
    """The app a component names, "home" for the launcher, None when it does not exist."""
    pkg, _, act = comp.partition("/")
    app = phone.app(pkg)
    if pkg == LAUNCHER and act in (phone.launcher.activity, LAUNCHER + phone.launcher.activity):
        return "home"
    if app is None:
        return None
    if act in (app.activity, pkg + app.activity):
        return app
    return None


def component(phone: Phone, full: bool = False) -> tuple[str, str]:
    """(package, activity) in the foreground; `full` spells a relative activity out."""
    app = phone.app(phone.foreground)
    if phone.foreground == LAUNCHER or app is None:
        pkg, act = LAUNCHER, phone.launcher.activity
    else:
        pkg, act = app.package, app.activity
    if full and act.startswith("."):
        act = pkg + act
    return pkg, act


def _stack_list(phone: Phone) -> str:
    """`am stack list` as Android 13 prints it: the foreground task is the visible one."""
    pkg, act = component(phone, full=True)
    return (f"RootTask id=12 bounds=[0,0][1080,2400] displayId=0 userId=0\n"
            f"  taskId=12: {pkg}/{act} bounds=[0,0][1080,2400] userId=0 visible=true "
            f"topActivity=ComponentInfo{{{pkg}/{act}}}\n")


def am(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if not args:
        return b"", b"usage: am [start|force-stop|broadcast|kill] ...\n", 1
    sub, rest = args[0], args[1:]
    phone = ctx.phone
    if sub in ("force-stop", "kill", "stop-app"):
        for pkg in (a for a in rest if not a.startswith("-") and "." in a):
            if phone.app(pkg) is not None:
                phone.force_stop(pkg)
        return b"", b"", 0
    if sub == "stack":
        if rest[:1] == ["list"]:
            return _stack_list(phone).encode(), b"", 0
        if rest[:1] == ["remove"] and len(rest) == 2 and rest[1].isdigit():
            if rest[1] == "12" and phone.foreground != LAUNCHER:  # the one task there is
                phone.force_stop(phone.foreground)
            return b"", b"", 0
        return b"", b"usage: am stack [list|remove <TASK_ID>]\n", 1
    intent = parse_intent(rest)
    if sub in ("start", "start-activity"):
        return _start(phone, intent)
    if sub == "broadcast":
        return _broadcast(phone, intent)
    return b"", b(f"Error: Unknown command: {sub}\n"), 1


def _start(phone: Phone, intent: Intent) -> Result:
    if intent.get("-S") and intent.get("component"):
        pkg = intent["component"].partition("/")[0]
        if phone.app(pkg) is not None:
            phone.force_stop(pkg)
    desc = _intent_desc(intent)
    target: App | str | None = None
    if intent.get("component"):
        target = _resolve_component(phone, intent["component"])
        if target is None:
            return (f"Starting: Intent {{ {desc} }}\n").encode(), b(
                f"Error type 3\nError: Activity class {{{intent['component']}}} does not exist.\n"), 1
    elif intent.get("category") == "android.intent.category.HOME":
        target = "home"
    elif (intent.get("action") or "").startswith("android.settings."):
        target = phone.app("com.android.settings")
    elif intent.get("action") == "android.intent.action.MAIN" and intent.get("package"):
        target = phone.app(intent["package"])
    if target is None:
        return (f"Starting: Intent {{ {desc} }}\n").encode(), b(
            f"Error: Activity not started, unable to resolve Intent {{ {desc} }}\n"), 1
    if isinstance(target, App):
        phone.launch(target.package)
    else:
        phone.home()
    out = f"Starting: Intent {{ {desc} }}\n"
    if intent.get("-W"):
        out += "Status: ok\nLaunchState: COLD\nTotalTime: 12\nWaitTime: 14\nComplete\n"
    return out.encode(), b"", 0


def _broadcast(phone: Phone, intent: Intent) -> Result:
    action = intent.get("action") or ""
    extras = intent.get("extras", {})
    head = f"Broadcasting: Intent {{ {_intent_desc(intent)} flg=0x400000{' (has extras)' if extras else ''} }}\n"
    # ADBKeyboard's receiver lives in the input method: it only hears these while it is
    # the current IME and an editor is connected.
    if action.startswith("ADB_") and phone.current_ime() == ADB_IME and ADB_IME in phone.state["imes"]:
        if action == "ADB_INPUT_TEXT" and "msg" in extras:
            phone.commit_text(str(extras["msg"]))
        elif action == "ADB_INPUT_B64" and "msg" in extras:
            try:
                text = base64.b64decode(str(extras["msg"]), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                text = None
            if text is not None:
                phone.commit_text(text)
        elif action == "ADB_INPUT_CHARS" and "chars" in extras:
            phone.commit_text("".join(chr(int(c)) for c in extras["chars"]))
        elif action == "ADB_CLEAR_TEXT":
            phone.clear_text()
        elif action == "ADB_INPUT_CODE" and "code" in extras:
            phone.key(int(extras["code"]))
        elif action == "ADB_EDITOR_CODE" and "code" in extras:
            phone.enter()
    return (head + "Broadcast completed: result=0\n").encode(), b"", 0


_MONKEY_OPTIONS = ("--throttle", "-s", "--pct-syskeys", "--pct-touch", "--pct-motion", "--pct-appswitch",
                   "--pct-anyevent", "--pct-trackball", "--pct-nav", "--pct-majornav", "--pct-flip",
                   "--pct-pinchzoom", "--pct-rotation")


def monkey(ctx: Context, args: list[str], stdin: bytes) -> Result:
    pkgs: list[str] = []
    category: str | None = None
    count: int | None = None
    it = iter(args)
    for a in it:
        if a == "-p":
            pkgs.append(next(it))
        elif a == "-c":
            category = next(it)
        elif a in _MONKEY_OPTIONS:
            next(it, None)
        elif re.fullmatch(r"[0-9]+", a):
            count = int(a)
    if count is None:
        return b"", b"** Error: Count not specified\nusage: monkey [-p ALLOWED_PACKAGE [-p ALLOWED_PACKAGE] ...]\n", 1
    apps = [app for app in (ctx.phone.app(p) for p in pkgs) if app is not None]
    if category not in (None, "android.intent.category.LAUNCHER", "android.intent.category.MONKEY") or not apps:
        return b"** No activities found to run, monkey aborted.\n", b"", 251
    ctx.phone.launch(apps[0].package)
    return (b"Events injected: 1\n"
            b"## Network stats: elapsed time=8ms (0ms mobile, 0ms wifi, 8ms not connected)\n"), b"", 0


# ------------------------------------------------------------ packages


def _apk(pkg: str) -> str:
    return f"/system/app/{pkg.rsplit('.', 1)[-1]}/{pkg.rsplit('.', 1)[-1]}.apk"


def pm(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if not args:
        return b"", b"usage: pm [list|path|clear|uninstall|resolve-activity|query-activities] ...\n", 1
    sub, rest = args[0], args[1:]
    phone = ctx.phone
    if sub == "list" and rest and rest[0] == "packages":
        opts = {a for a in rest[1:] if a.startswith("-")}
        filt = next((a for a in rest[1:] if not a.startswith("-")), "")
        out = []
        for pkg in phone.packages():
            if "-3" in opts and pkg not in _THIRD_PARTY or "-s" in opts and pkg in _THIRD_PARTY or filt not in pkg:
                continue
            out.append(f"package:{_apk(pkg)}={pkg}" if "-f" in opts else f"package:{pkg}")
        return "".join(o + "\n" for o in out).encode(), b"", 0
    if sub == "path" and rest:
        if rest[-1] in phone.packages():
            return f"package:{_apk(rest[-1])}\n".encode(), b"", 0
        return b"", b"", 1
    if sub == "clear" and rest:
        return _clear(phone, rest[-1])
    if sub == "uninstall" and rest:
        return _uninstall(phone, rest[-1])
    if sub == "dump" and rest:
        return dump_package(phone, rest[-1])
    if sub in ("resolve-activity", "query-activities"):
        return _query_activities(phone, sub, rest)
    if sub in ("grant", "revoke", "disable-user", "enable"):
        return b"", b"", 0
    return b"", b(f"Unknown command: {sub}\n"), 1


def _clear(phone: Phone, pkg: str) -> Result:
    if pkg not in phone.packages():
        return b"Failed\n", b"", 1
    table = _CLEARED_TABLES.get(pkg)
    if table:
        phone.state[table] = []
    if phone.app(pkg) is not None:
        phone.force_stop(pkg)
    phone.changed()
    return b"Success\n", b"", 0


def _uninstall(phone: Phone, pkg: str) -> Result:
    if pkg == "com.android.adbkeyboard" and ADB_IME in phone.state["imes"]:
        phone.state["imes"] = [i for i in phone.state["imes"] if i != ADB_IME]
        secure = phone.settings("secure")
        enabled = [i for i in secure.get("enabled_input_methods", "").split(":") if i and i != ADB_IME]
        secure["enabled_input_methods"] = ":".join(enabled)
        if secure.get("default_input_method") == ADB_IME:
            secure["default_input_method"] = LATIN_IME
        phone.changed()
        return b"Success\n", b"", 0
    return b"Failure [DELETE_FAILED_INTERNAL_ERROR]\n", b"", 1


def dump_package(phone: Phone, pkg: str) -> Result:
    """`pm dump PKG` / `dumpsys package PKG`: the launcher activity and the package record."""
    if pkg not in phone.packages():
        return b"", b"", 0
    app = phone.app(pkg)
    lines = []
    if app is not None:
        lines += ["Activity Resolver Table:", "  Non-Data Actions:", "      android.intent.action.MAIN:",
                  f"        5d4c3b2 {app.component} filter 1a2b3c4",
                  "          Action: \"android.intent.action.MAIN\"",
                  "          Category: \"android.intent.category.LAUNCHER\"", ""]
    lines += ["Packages:", f"  Package [{pkg}] (0f1e2d3):", "    userId=10123", f"    pkg=Package{{0f1e2d3 {pkg}}}",
              "    versionCode=1 minSdk=24 targetSdk=34", "    versionName=1.0",
              f"    dataDir=/data/user/0/{pkg}"]
    return ("\n".join(lines) + "\n").encode(), b"", 0


def _query_activities(phone: Phone, sub: str, rest: list[str]) -> Result:
    brief = "--brief" in rest
    components = "--components" in rest
    intent = parse_intent([a for a in rest if a not in ("--brief", "--components")])
    category = intent.get("category")
    apps = phone.launchable()
    pkg = intent.get("package") or intent.get("data")
    if pkg:
        apps = [a for a in apps if a.package == pkg]
    if category not in (None, "android.intent.category.LAUNCHER", "android.intent.category.DEFAULT"):
        apps = []
    if sub == "resolve-activity":
        if not apps:
            return b"No activity found\n", b"", 0
        apps = apps[:1]
    if components:
        return "".join(a.component + "\n" for a in apps).encode(), b"", 0
    lines = [] if sub == "resolve-activity" else [f"{len(apps)} activities found:"]
    for i, app in enumerate(apps):
        if brief:
            lines += ["priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false", app.component]
            continue
        indent = "" if sub == "resolve-activity" else "    "
        if sub == "query-activities":
            lines.append(f"  Activity #{i}:")
        lines += [
            f"{indent}priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false",
            f"{indent}ActivityInfo:",
            f"{indent}  name={app.package}{app.activity}",
            f"{indent}  packageName={app.package}",
            f"{indent}  labelRes=0x7f1200a1 nonLocalizedLabel={app.label} icon=0x7f0800c2 banner=0x0",
            f"{indent}  enabled=true exported=true directBootAware=false",
        ]
    return ("\n".join(lines) + "\n").encode(), b"", 0


# ------------------------------------------------------------ content providers


def _provider_rows(phone: Phone, uri: str) -> list[Row] | None:
    s = phone.state
    if uri in ("content://com.android.contacts/contacts", "content://com.android.contacts/raw_contacts"):
        return [{"_id": c["id"], "display_name": c["name"]} for c in s["contacts"]]
    # content://contacts/phones/ is the legacy Contacts.Phones URI AndroidWorld's contacts_utils reads
    if uri.rstrip("/") in ("content://com.android.contacts/data/phones", "content://com.android.contacts/data",
                           "content://contacts/phones"):
        return [{"_id": c["id"], "contact_id": c["id"], "display_name": c["name"], "number": c["phone"] or None,
                 "data1": c["phone"] or None} for c in s["contacts"]]
    if uri == "content://com.simphone.notes/notes":
        return [{"_id": n["id"], "text": n["text"]} for n in s["notes"]]
    if uri == "content://com.android.deskclock/alarms":
        return [{"_id": a["id"], "hour": a["hour"], "minutes": a["minute"], "enabled": int(a["enabled"]),
                 "label": a["label"], "daysofweek": 0, "vibrate": 1} for a in s["alarms"]]
    m = re.fullmatch(r"content://settings/(global|secure|system)", uri)
    if m:
        table = s["settings"][m.group(1)]
        return [{"_id": i + 1, "name": k, "value": v} for i, (k, v) in enumerate(sorted(table.items()))]
    return None


def _where(clause: str, row: Row) -> bool:
    """A tiny SQL WHERE: ``col = value`` terms joined by AND; LIKE with % wildcards."""
    for term in re.split(r"\s+AND\s+", clause.strip(), flags=re.IGNORECASE):
        m = re.fullmatch(r"\s*(\w+)\s*(=|==|!=|<>|LIKE)\s*(.+?)\s*", term, flags=re.IGNORECASE)
        if not m:
            raise ValueError(f"unsupported where clause {clause!r}")
        col, op, value = m.group(1), m.group(2).upper(), m.group(3)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        actual = row.get(col)
        actual_s = "" if actual is None else str(actual)
        if op in ("=", "=="):
            ok = actual_s == value
        elif op in ("!=", "<>"):
            ok = actual_s != value
        else:
            like = re.escape(value).replace("%", ".*").replace("_", ".")
            ok = re.fullmatch(like, actual_s, re.IGNORECASE) is not None
        if not ok:
            return False
    return True


def content(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if not args or args[0] != "query":
        return b"", b"usage: content query --uri <URI> [--projection <PROJECTION>] [--where <WHERE>] " \
                    b"[--sort <SORT_ORDER>]\n", 1
    opts: dict[str, str] = {}
    it = iter(args[1:])
    for a in it:
        if a in ("--uri", "--projection", "--where", "--sort", "--user"):
            opts[a[2:]] = next(it)
    if "uri" not in opts:
        return b"", b"[ERROR] Content provider URI not specified.\n", 1
    rows = _provider_rows(ctx.phone, opts["uri"])
    if rows is None:
        return b"", b(f"Error while accessing provider:{opts['uri'].removeprefix('content://').split('/')[0]}\n"
                      f"java.lang.IllegalArgumentException: Unknown URI {opts['uri']}\n"), 1
    if "where" in opts:
        rows = [r for r in rows if _where(opts["where"], r)]
    if "sort" in opts:
        col, _, direction = opts["sort"].partition(" ")
        rows.sort(key=lambda r: (r.get(col) is None, r.get(col)), reverse=direction.strip().upper() == "DESC")
    if not rows:
        return b"No result found.\n", b"", 0
    cols = opts["projection"].split(":") if "projection" in opts else list(rows[0])
    for c in cols:
        if c not in rows[0]:
            return b"", b(f"Error while accessing provider\njava.lang.IllegalArgumentException: "
                          f"Invalid column {c}\n"), 1
    out = [f"Row: {i} " + ", ".join(f"{c}={'NULL' if r[c] is None else r[c]}" for c in cols)
           for i, r in enumerate(rows)]
    return ("\n".join(out) + "\n").encode(), b"", 0


COMMANDS: dict[str, CommandFn] = {"am": am, "monkey": monkey, "pm": pm, "content": content}
