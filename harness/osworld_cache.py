"""OSWorld's task cache: where a task's downloaded files live, so a pre-filled cache runs offline.

OSWorld keeps them in ``<cache>/<task id>/`` (``DesktopEnv(cache_dir="cache")``, one folder per task):

- a setup ``download`` of ``url`` to ``path`` is cached as ``<uuid5(NAMESPACE_URL, url)>_<basename(path)>``;
- a ``cloud_file`` getter's file is ``<dest>``;

and a file already there is used without any network access. The cache folder is
``$GUIAGENT_OSWORLD_CACHE`` when set, else ``cache/`` beside the ``evaluation_examples`` folder the task
file lies in (OSWorld's checkout layout), else ``cache/`` beside the task file. Files in the task's
cache folder count as the task's declared fixtures; every name is confined to that folder.
"""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from guiagent.harness.base import InfraError, Task, confine, safe_id

CACHE_VAR = "GUIAGENT_OSWORLD_CACHE"
NETWORK_SCHEMES = ("http", "https")
DOWNLOAD_TIMEOUT = 300.0  # seconds, as OSWorld's controller
RETRIES = 3


def is_network_url(url: str) -> bool:
    """An http(s) URL: fetched into the cache (or found there)."""
    return urllib.parse.urlparse(url).scheme in NETWORK_SCHEMES


def cache_root(source: str) -> Path:
    """The cache folder for a task file at `source` (see the module docstring)."""
    env = os.environ.get(CACHE_VAR)
    if env:
        return Path(env).expanduser()
    file = Path(source).resolve() if source else Path.cwd() / "task.json"
    for parent in file.parents:
        if parent.name == "evaluation_examples":
            return parent.parent / "cache"
    return file.parent / "cache"


def task_cache_dir(task: Task) -> Path:
    """``<cache>/<task id>``: OSWorld names it by the task JSON's ``id``."""
    data = getattr(task, "data", None)
    raw = str(data["id"]) if isinstance(data, dict) and "id" in data else task.name
    root = cache_root(task.source)
    return confine(root / safe_id(raw), root, "task cache folder")


def download_cache_name(url: str, path: str) -> str:
    """OSWorld's cache file name for a setup download of `url` to `path`."""
    return f"{uuid.uuid5(uuid.NAMESPACE_URL, url)}_{os.path.basename(path)}"


def fetch(url: str, dest: Path, *, retries: int = RETRIES) -> None:
    """Download `url` to `dest` (a partial file is removed); InfraError after the retries."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    error: Exception | None = None
    for _ in range(max(1, retries)):
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp, open(dest, "wb") as out:  # noqa: S310 - http(s) only
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
            return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = exc
            with contextlib.suppress(OSError):
                dest.unlink()
    raise InfraError(f"download of {url} failed and it is not in the cache ({dest}): {error}")


def cached_download(url: str, path: str, task: Task) -> Path:
    """The cached copy of a setup download (fetched first when missing), inside the task's cache folder."""
    folder = task_cache_dir(task)
    file = confine(folder / download_cache_name(url, path), folder, "download cache file")
    if not file.is_file():
        fetch(url, file)
    return file


def cached_cloud_file(url: str, dest: str, task: Task) -> Path:
    """A ``cloud_file`` getter's file ``<cache>/<task id>/<dest>``; fetched only when missing, as OSWorld."""
    folder = task_cache_dir(task)
    file = confine(folder / dest, folder, "cloud_file dest")
    if not file.exists():
        fetch(url, file, retries=1)  # OSWorld's getter tries once
    return file


def cache_names(config: dict[str, Any]) -> list[str]:
    """The cache file names a task's setup downloads use (for reports and tests)."""
    out: list[str] = []
    for step in config.get("config") or []:
        if isinstance(step, dict) and step.get("type") == "download":
            for f in (step.get("parameters") or {}).get("files") or []:
                if isinstance(f, dict) and f.get("url") and f.get("path"):
                    out.append(download_cache_name(str(f["url"]), str(f["path"])))
    return out


__all__ = ["CACHE_VAR", "cache_names", "cache_root", "cached_cloud_file", "cached_download", "download_cache_name",
           "fetch", "is_network_url", "task_cache_dir"]
