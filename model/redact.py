"""Credentials never reach a file or the terminal: the one function every recorded or printed spec goes through.

A model spec may carry a credential (``openai:http://user:pass@host/v1``), a backend holds
an API key, and a server's error body may echo either back. `redact` masks URL userinfo
anywhere in a text and every known secret string; backends pass their own secrets, and
the agent, the harness and the command line pass every spec and message they record or
print through it.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterable

MASK = "***"
# scheme://userinfo@ — userinfo is everything up to the last @ before the host's path, no spaces or slashes
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#]+@")
_SHORTEST = 4  # shorter "secrets" (a user name "a") would mask ordinary text


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with URL userinfo masked (``http://u:p@h`` -> ``http://***@h``) and each secret (and its URL and
    base64 forms, as a server may echo them) replaced by ``***``."""
    out = _USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", text)
    forms: set[str] = set()
    for s in secrets:
        if not s or len(s) < _SHORTEST:
            continue
        forms |= {s, urllib.parse.quote(s, safe=""), base64.b64encode(s.encode()).decode("ascii")}
    for form in sorted(forms, key=len, reverse=True):
        out = out.replace(form, MASK)
    return out


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``http://user:pass@host/v1`` -> (``http://host/v1``, ``user``, ``pass``), percent-decoded; else (url, None, None)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, urllib.parse.unquote(user), urllib.parse.unquote(password) if sep else None
