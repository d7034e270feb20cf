"""Which installed app an ``open`` action means: package name, label, or a close match.

Android has no shell command that prints app labels for every app. What the device does
offer: ``cmd package query-activities`` lists the launcher activities, and reports a
label for each app whose manifest gives a literal one (``nonLocalizedLabel``); apps with
a translated label show ``null`` there. So the resolution order is:

1. an installed package name, exactly;
2. a label the device reports, case-insensitively;
3. a table of well-known labels (Settings, Chrome, Clock, ...) -> their usual packages;
4. a fuzzy match (difflib, plus whole-word containment) over labels and package-name
   words, e.g. ``"contact"`` -> Contacts, ``"deskclock"`` -> com.android.deskclock;
5. otherwise an error that lists the launchable apps.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

LAUNCHER_QUERY = "cmd package query-activities -a android.intent.action.MAIN -c android.intent.category.LAUNCHER"

# Common app names -> packages that carry them on stock Android / Pixel / AOSP builds.
KNOWN_APPS: dict[str, tuple[str, ...]] = {
    "settings": ("com.android.settings",),
    "chrome": ("com.android.chrome",),
    "browser": ("com.android.chrome", "com.android.browser", "org.chromium.webview_shell"),
    "clock": ("com.google.android.deskclock", "com.android.deskclock"),
    "alarm": ("com.google.android.deskclock", "com.android.deskclock"),
    "contacts": ("com.google.android.contacts", "com.android.contacts"),
    "phone": ("com.google.android.dialer", "com.android.dialer"),
    "dialer": ("com.google.android.dialer", "com.android.dialer"),
    "messages": ("com.google.android.apps.messaging", "com.android.messaging", "com.android.mms"),
    "sms": ("com.google.android.apps.messaging", "com.android.messaging", "com.android.mms"),
    "camera": ("com.android.camera2", "com.google.android.GoogleCamera", "com.android.camera"),
    "photos": ("com.google.android.apps.photos",),
    "gallery": ("com.android.gallery3d", "com.google.android.apps.photos"),
    "files": ("com.google.android.documentsui", "com.android.documentsui", "com.google.android.apps.nbu.files"),
    "calendar": ("com.google.android.calendar", "com.android.calendar"),
    "gmail": ("com.google.android.gm",),
    "email": ("com.google.android.gm", "com.android.email"),
    "maps": ("com.google.android.apps.maps",),
    "youtube": ("com.google.android.youtube",),
    "play store": ("com.android.vending",),
    "google play": ("com.android.vending",),
    "calculator": ("com.google.android.calculator", "com.android.calculator2"),
    "keep": ("com.google.android.keep",),
    "notes": ("com.google.android.keep",),
    "recorder": ("com.google.android.apps.recorder", "com.android.soundrecorder"),
    "drive": ("com.google.android.apps.docs",),
    "google": ("com.google.android.googlequicksearchbox",),
    "music": ("com.google.android.apps.youtube.music", "com.android.music"),
}

_NOISE = {"app", "the", "application", "open", "launch", "start"}
_PKG_NOISE = {"com", "android", "google", "apps", "app", "org", "net", "www"}


@dataclass(frozen=True)
class LauncherApp:
    """One launcher activity as the device reports it."""

    package: str
    activity: str
    label: str | None

    @property
    def component(self) -> str:
        return f"{self.package}/{self.activity}"

    def display(self) -> str:
        return f"{self.label} ({self.package})" if self.label else self.package


class NoSuchApp(LookupError):
    """Nothing installed matches; the message lists what is."""


def parse_query_activities(text: str) -> list[LauncherApp]:
    """Launcher apps from ``cmd package query-activities`` output (full or ``--brief``)."""
    apps: list[LauncherApp] = []
    seen: set[str] = set()
    # Full output: ActivityInfo blocks with name=, packageName=, nonLocalizedLabel=.
    for block in re.split(r"\n\s*(?=ActivityInfo:)", text):
        name = re.search(r"^\s*name=(\S+)", block, re.M)
        pkg = re.search(r"^\s*packageName=(\S+)", block, re.M)
        if not (name and pkg):
            continue
        label_m = re.search(r"nonLocalizedLabel=(.*?)(?:\s+icon=|\s*$)", block, re.M)
        label = label_m.group(1).strip() if label_m else None
        activity = name.group(1)
        if activity.startswith(pkg.group(1) + "."):
            activity = activity[len(pkg.group(1)):]
        app = LauncherApp(pkg.group(1), activity, None if label in (None, "", "null") else label)
        if app.package not in seen:
            seen.add(app.package)
            apps.append(app)
    if apps:
        return apps
    # --brief / --components output: one "package/activity" per activity.
    for m in re.finditer(r"^\s*([A-Za-z][\w.]*)/(\S+)\s*$", text, re.M):
        if m.group(1) not in seen:
            seen.add(m.group(1))
            apps.append(LauncherApp(m.group(1), m.group(2), None))
    return apps


def parse_packages(text: str) -> list[str]:
    """Package names from ``pm list packages`` output."""
    return [line.split(":", 1)[1].rsplit("=", 1)[-1].strip() for line in text.splitlines()
            if line.startswith("package:")]


def _norm(text: str) -> str:
    words = re.findall(r"[\w']+", text.casefold())
    return " ".join(w for w in words if w not in _NOISE) or " ".join(words)


def _package_words(package: str) -> list[str]:
    return [w for w in re.split(r"[._]", package.casefold()) if w and w not in _PKG_NOISE]


def resolve(name: str, apps: list[LauncherApp], packages: list[str]) -> tuple[str, LauncherApp | None]:
    """(package, its launcher activity if known) for what `name` means; raises NoSuchApp."""
    query = name.strip()
    by_package = {a.package: a for a in apps}
    installed = set(packages) | set(by_package)
    # 1. a package name
    if query in installed:
        return query, by_package.get(query)
    q = _norm(query)
    # 2. a label the device reports
    for app in apps:
        if app.label and _norm(app.label) == q:
            return app.package, app
    # 3. well-known names
    for pkg in KNOWN_APPS.get(q, ()):
        if pkg in installed:
            return pkg, by_package.get(pkg)
    # 4. fuzzy: labels and package-name words of launchable apps
    keys: dict[str, str] = {}
    for app in apps:
        if app.label:
            keys.setdefault(_norm(app.label), app.package)
        for word in _package_words(app.package):
            keys.setdefault(word, app.package)
        keys.setdefault(app.package.casefold(), app.package)
    contained = {pkg for key, pkg in keys.items() if len(key) >= 3 and
                 (re.search(rf"\b{re.escape(key)}\b", q) or re.search(rf"\b{re.escape(q)}\b", key))}
    if len(contained) == 1:
        pkg = contained.pop()
        return pkg, by_package.get(pkg)
    close = difflib.get_close_matches(q, list(keys), n=1, cutoff=0.6)
    if close:
        pkg = keys[close[0]]
        return pkg, by_package.get(pkg)
    listed = ", ".join(a.display() for a in apps[:20]) or "none found"
    more = f" and {len(apps) - 20} more" if len(apps) > 20 else ""
    raise NoSuchApp(f"no installed app matches {name!r}; launchable apps: {listed}{more}")
