"""``misses.html``: every miss of an offline run, drawn on its screenshot.

The target (green box; for AndroidControl also the gold point, a green dot) and the
prediction (red cross) are drawn on a copy of the screenshot, scaled to at most
`MAX_SIDE` pixels, saved as ``misses/<id>.jpg`` next to the page. The page is rendered by
a sandboxed, autoescaping Jinja environment (instructions and replies are untrusted text),
loads nothing from the network and carries a Content-Security-Policy that forbids scripts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guiagent.harness.offline.suite import OfflineSuite, SampleRecord

MAX_SIDE = 1280
MAX_MISSES = 500  # beyond this the page lists the rest without pictures

_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'">
<title>{{ suite }} misses</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
.miss { border: 1px solid #ccc; border-radius: 6px; padding: .8em; margin: 1em 0; }
.miss img { max-width: 100%; max-height: 80vh; display: block; margin-top: .5em; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .5em; font-size: 90%; }
.k { color: #666; }
</style></head><body>
<h1>{{ suite }}: {{ misses|length + rest|length }} misses, {{ errors|length }} errors of {{ total }} samples</h1>
<p class="k">green: the ground-truth target; red cross: the model's point. Overall accuracy {{ accuracy }}.</p>
{% for m in misses %}
<div class="miss"><b>{{ m.id }}</b> <span class="k">{{ m.groups }}</span>
<div>{{ m.instruction }}</div>
<div class="k">truth {{ m.truth }} &middot; predicted {{ m.predicted }}{% if m.reason %} &middot; {{ m.reason }}{% endif %}</div>
<pre>{{ m.raw }}</pre>
{% if m.picture %}<img src="{{ m.picture }}" alt="screenshot of {{ m.id }}">{% endif %}
</div>
{% endfor %}
{% if rest %}<h2>More misses (not drawn)</h2><ul>{% for m in rest %}<li>{{ m.id }}: {{ m.instruction }}</li>{% endfor %}</ul>{% endif %}
{% if errors %}<h2>Errors (run again with --resume)</h2><ul>{% for m in errors %}<li>{{ m.id }}: {{ m.reason }}</li>{% endfor %}</ul>{% endif %}
</body></html>
"""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:120] or "sample"


def draw_marks(image: Any, record: SampleRecord) -> Any:
    """A copy of `image` with the record's target and prediction drawn, at most MAX_SIDE on a side."""
    from PIL import ImageDraw

    img = image.convert("RGB")
    d = ImageDraw.Draw(img)
    width = max(2, round(max(img.size) / 400))
    box = record.truth.get("bbox") or record.truth.get("bounds")
    if box:
        d.rectangle([float(v) for v in box], outline=(0, 200, 0), width=width)
    gold = record.truth.get("point")
    if gold:
        r = 3 * width
        d.ellipse([gold[0] - r, gold[1] - r, gold[0] + r, gold[1] + r], outline=(0, 200, 0), width=width)
    point = record.predicted.get("point")
    if point:
        r = 6 * width
        x, y = point
        d.line([x - r, y, x + r, y], fill=(230, 0, 0), width=width)
        d.line([x, y - r, x, y + r], fill=(230, 0, 0), width=width)
    scale = MAX_SIDE / max(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
    return img


def picture_name(record: SampleRecord) -> str:
    return _safe(record.id) + ".jpg"


def save_picture(suite: OfflineSuite, record: SampleRecord, out: Path, sample: object = None) -> None:
    """Draw a miss now, while its sample (and screenshot) is still at hand."""
    pictures = out / "misses"
    pictures.mkdir(parents=True, exist_ok=True)
    draw_marks(suite.draw(record, sample), record).save(pictures / picture_name(record), "JPEG", quality=80)


def write_misses(suite: OfflineSuite, records: list[SampleRecord], out: Path) -> Path:
    """Write ``out/misses.html`` (and its pictures); returns the page's path."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    misses = [r for r in records if r.status == "scored" and not r.hit]
    errors = [r for r in records if r.status != "scored"]
    pictures = out / "misses"
    drawn: list[dict[str, Any]] = []
    for r in misses[:MAX_MISSES]:
        view = r.model_dump()
        view["picture"] = None
        try:
            name = picture_name(r)
            if not (pictures / name).exists():
                save_picture(suite, r, out)
            view["picture"] = f"misses/{name}"
        except Exception:  # noqa: BLE001 - a screenshot that cannot be read still gets its text entry
            pass
        drawn.append(view)
    scored = len(records) - len(errors)
    hits = sum(r.hit for r in records if r.status == "scored")
    env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                                        lstrip_blocks=True)
    html = env.from_string(_TEMPLATE).render(
        suite=suite.name, misses=drawn, rest=[r.model_dump() for r in misses[MAX_MISSES:]],
        errors=[r.model_dump() for r in errors], total=len(records),
        accuracy=f"{100 * hits / scored:.2f} %" if scored else "-")
    page = out / "misses.html"
    tmp = page.with_name(page.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(page)
    return page


__all__ = ["draw_marks", "save_picture", "write_misses"]
