"""Widgets with rectangles in device pixels, and their deterministic rendering with Pillow.

A screen is a list of `Widget`s in drawing order (later ones on top). Taps go to the
topmost clickable widget whose rectangle holds the point; `uiautomator dump` lists the
same widgets with ``bounds="[x1,y1][x2,y2]"``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from PIL import Image, ImageDraw, ImageFont

Rect = tuple[int, int, int, int]

# Colours (RGB), Material-like.
BG = (250, 250, 250)
TEXT = (33, 33, 33)
SUBTEXT = (117, 117, 117)
DIVIDER = (224, 224, 224)
STATUS_BG = (20, 20, 20)
NAV_BG = (0, 0, 0)
NAV_FG = (200, 200, 200)
KB_BG = (232, 234, 237)
KEY_BG = (255, 255, 255)
KEY_FN_BG = (200, 204, 210)
OFF_TRACK = (189, 189, 189)
ERROR = (211, 47, 47)

# DejaVu ships with Debian (fonts-dejavu-core) and covers Latin accents; Pillow's bundled
# font is the fallback so the simphone needs no font package.
_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
_BOLD_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",)


@functools.cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font of `size` pixels (cached)."""
    for path in _BOLD_FILES if bold else _FONT_FILES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


@dataclass
class Metrics:
    """Layout sizes for a W x H portrait screen, scaled from the 1080-wide design."""

    width: int
    height: int

    def __post_init__(self) -> None:
        u = self.width / 1080
        self.u = u
        self.status_h = round(84 * u)
        self.nav_h = round(132 * u)
        self.appbar_h = round(168 * u)
        self.row_h = round(176 * u)
        self.pad = round(48 * u)
        self.kb_h = round(660 * u)
        self.adb_kb_h = round(110 * u)
        self.fab = round(168 * u)

    def s(self, v: float) -> int:
        """A design length (1080-wide units) in device pixels."""
        return round(v * self.u)

    @property
    def bottom(self) -> int:
        """Top of the navigation bar."""
        return self.height - self.nav_h


@dataclass
class Widget:
    """One view on screen: what uiautomator reports about it, how it draws and reacts."""

    rect: Rect
    cls: str = "android.view.View"
    text: str = ""
    desc: str = ""
    rid: str = ""
    pkg: str = ""
    style: str = "view"
    clickable: bool = False
    checkable: bool = False
    checked: bool = False
    focused: bool = False
    scrollable: bool = False
    hint: str = ""
    color: tuple[int, int, int] = TEXT
    size: int = 0  # text size in px; 0 = the style's default
    on_tap: Callable[[], None] | None = field(default=None, repr=False)
    on_long: Callable[[], None] | None = field(default=None, repr=False)
    on_scroll: Callable[[int], None] | None = field(default=None, repr=False)
    clip: Rect | None = None  # the viewport a list row is drawn inside
    avatar: str = ""  # a row's round avatar letter (Contacts)

    def contains(self, x: float, y: float) -> bool:
        x1, y1, x2, y2 = self.visible_rect()
        return x1 <= x < x2 and y1 <= y < y2

    def visible_rect(self) -> Rect:
        if self.clip is None:
            return self.rect
        x1, y1, x2, y2 = self.rect
        cx1, cy1, cx2, cy2 = self.clip
        return max(x1, cx1), max(y1, cy1), min(x2, cx2), min(y2, cy2)

    def visible(self) -> bool:
        x1, y1, x2, y2 = self.visible_rect()
        return x2 > x1 and y2 > y1


def ellipsize(text: str, fnt, max_w: float) -> str:
    """The first line of `text`, cut with an ellipsis to fit `max_w` pixels."""
    line = text.split("\n", 1)[0]
    if fnt.getlength(line) <= max_w:
        return line
    while line and fnt.getlength(line + "…") > max_w:
        line = line[:-1]
    return line + "…"


class Renderer:
    """Draws a widget list onto a background; pure function of its inputs."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    @functools.cache  # noqa: B019 - one renderer per phone; the cache is the point
    def wallpaper(self) -> Image.Image:
        w, h = self.m.width, self.m.height
        top, bottom = (24, 56, 100), (64, 128, 160)
        grad = Image.linear_gradient("L").resize((w, h))
        return Image.merge("RGB", [
            grad.point(lambda v, a=a, b=b: a + (b - a) * v // 255) for a, b in zip(top, bottom, strict=True)
        ])

    def render(self, widgets: list[Widget], wallpaper: bool) -> Image.Image:
        m = self.m
        img = self.wallpaper().copy() if wallpaper else Image.new("RGB", (m.width, m.height), BG)
        draw = ImageDraw.Draw(img)
        for w in widgets:
            if not w.visible():
                continue
            getattr(self, "_draw_" + w.style, self._draw_view)(draw, img, w)
        return img

    # ---------------------------------------------------------------- styles

    def _draw_view(self, draw: ImageDraw.ImageDraw, img: Image.Image, w: Widget) -> None:
        pass

    def _text(self, draw, xy, text, size, fill, bold=False, anchor="lm", max_w=None):
        fnt = font(size, bold)
        if max_w is not None:
            text = ellipsize(text, fnt, max_w)
        draw.text(xy, text, font=fnt, fill=fill, anchor=anchor)

    def _draw_fill(self, draw, img, w):
        draw.rectangle(_inclusive(w.visible_rect()), fill=w.color)

    def _draw_statusbar(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        draw.rectangle(_inclusive(w.rect), fill=STATUS_BG)
        cy = (y1 + y2) // 2
        self._text(draw, (x1 + m.pad, cy), "12:00", m.s(36), (255, 255, 255), bold=True)
        # Right side, from the edge inwards: battery, then radio indicators (w.text lists them).
        bx2 = x2 - m.pad
        bx1 = bx2 - m.s(56)
        draw.rounded_rectangle((bx1, cy - m.s(16), bx2, cy + m.s(16)), radius=m.s(5), outline=(255, 255, 255),
                               width=max(1, m.s(3)))
        draw.rectangle((bx1 + m.s(6), cy - m.s(10), bx2 - m.s(6), cy + m.s(10)), fill=(255, 255, 255))
        x = bx1 - m.s(24)
        for name in reversed(w.text.split()):
            label = {"wifi": "WiFi", "bt": "BT", "airplane": "✈"}.get(name, name)
            fnt = font(m.s(30), True)
            x -= int(fnt.getlength(label))
            self._text(draw, (x, cy), label, m.s(30), (255, 255, 255), bold=True)
            x -= m.s(24)

    def _draw_navbar(self, draw, img, w):
        draw.rectangle(_inclusive(w.rect), fill=NAV_BG)

    def _draw_navbutton(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        cx, cy, r = (x1 + x2) // 2, (y1 + y2) // 2, m.s(26)
        if w.desc == "Back":
            draw.polygon([(cx - r, cy), (cx + r, cy - r), (cx + r, cy + r)], outline=NAV_FG, width=max(1, m.s(5)))
        elif w.desc == "Home":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=NAV_FG, width=max(1, m.s(5)))
        else:
            draw.rounded_rectangle((cx - r, cy - r, cx + r, cy + r), radius=m.s(6), outline=NAV_FG,
                                   width=max(1, m.s(5)))

    def _draw_appbar(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        draw.rectangle(_inclusive(w.rect), fill=w.color)
        self._text(draw, (x1 + m.pad, (y1 + y2) // 2), w.text, m.s(56), (255, 255, 255), bold=True,
                   max_w=x2 - x1 - m.s(420))

    def _draw_appbar_titled(self, draw, img, w):
        # An app bar whose title sits right of the "navigate up" arrow.
        m = self.m
        x1, y1, x2, y2 = w.rect
        draw.rectangle(_inclusive(w.rect), fill=w.color)
        self._text(draw, (x1 + m.s(150), (y1 + y2) // 2), w.text, m.s(52), (255, 255, 255), bold=True,
                   max_w=x2 - x1 - m.s(500))

    def _draw_upbutton(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        cy = (y1 + y2) // 2
        cx = (x1 + x2) // 2
        lw = max(2, m.s(7))
        draw.line((cx - m.s(26), cy, cx + m.s(28), cy), fill=(255, 255, 255), width=lw)
        draw.line((cx - m.s(26), cy, cx, cy - m.s(26)), fill=(255, 255, 255), width=lw)
        draw.line((cx - m.s(26), cy, cx, cy + m.s(26)), fill=(255, 255, 255), width=lw)

    def _draw_barbutton(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        self._text(draw, ((x1 + x2) // 2, (y1 + y2) // 2), w.text.upper(), m.s(40), (255, 255, 255), bold=True,
                   anchor="mm")

    def _draw_row(self, draw, img, w):
        # A list row: title (w.text) and an optional subtitle (w.hint), divider below.
        m = self.m
        x1, y1, x2, y2 = w.rect
        layer = Image.new("RGB", (x2 - x1, y2 - y1), (255, 255, 255))
        ld = ImageDraw.Draw(layer)
        h = y2 - y1
        tx = m.pad
        if w.avatar:
            letter = w.avatar[:1].upper()
            r = m.s(50)
            ld.ellipse((m.pad, h // 2 - r, m.pad + 2 * r, h // 2 + r), fill=w.color)
            ld.text((m.pad + r, h // 2), letter, font=font(m.s(48), True), fill=(255, 255, 255), anchor="mm")
            tx = m.pad + 2 * r + m.s(40)
        max_w = x2 - x1 - tx - m.s(220)
        if w.hint:
            ld.text((tx, h // 2 - m.s(26)), ellipsize(w.text, font(m.s(46)), max_w), font=font(m.s(46)),
                    fill=TEXT, anchor="lm")
            ld.text((tx, h // 2 + m.s(34)), ellipsize(w.hint, font(m.s(36)), max_w), font=font(m.s(36)),
                    fill=SUBTEXT, anchor="lm")
        else:
            ld.text((tx, h // 2), ellipsize(w.text, font(m.s(46)), max_w), font=font(m.s(46)), fill=TEXT,
                    anchor="lm")
        ld.line((m.pad, h - 1, x2 - x1, h - 1), fill=DIVIDER, width=max(1, m.s(2)))
        vx1, vy1, vx2, vy2 = w.visible_rect()
        img.paste(layer.crop((vx1 - x1, vy1 - y1, vx2 - x1, vy2 - y1)), (vx1, vy1))

    def _draw_bigrow(self, draw, img, w):
        # An alarm row: big time text, label below.
        m = self.m
        x1, y1, x2, y2 = w.rect
        layer = Image.new("RGB", (x2 - x1, y2 - y1), (255, 255, 255))
        ld = ImageDraw.Draw(layer)
        h = y2 - y1
        fill = TEXT if w.checked else SUBTEXT
        ld.text((m.pad, h // 2 - m.s(20)), w.text, font=font(m.s(84)), fill=fill, anchor="lm")
        ld.text((m.pad, h // 2 + m.s(58)), ellipsize(w.hint, font(m.s(36)), x2 - x1 - m.s(320)),
                font=font(m.s(36)), fill=SUBTEXT, anchor="lm")
        ld.line((m.pad, h - 1, x2 - x1, h - 1), fill=DIVIDER, width=max(1, m.s(2)))
        vx1, vy1, vx2, vy2 = w.visible_rect()
        img.paste(layer.crop((vx1 - x1, vy1 - y1, vx2 - x1, vy2 - y1)), (vx1, vy1))

    def _draw_switch(self, draw, img, w):
        m = self.m
        vx1, vy1, vx2, vy2 = w.visible_rect()
        x1, y1, x2, y2 = w.rect
        if (vx1, vy1, vx2, vy2) != (x1, y1, x2, y2):
            return  # a switch half scrolled out is not drawn (rows are tall enough to hide it)
        cy = (y1 + y2) // 2
        tw, th = m.s(110), m.s(50)
        tx2 = x2 - m.pad
        tx1 = tx2 - tw
        on = w.checked
        draw.rounded_rectangle((tx1, cy - th // 2, tx2, cy + th // 2), radius=th // 2,
                               fill=_tint(w.color) if on else OFF_TRACK)
        r = m.s(34)
        kx = tx2 - th // 2 if on else tx1 + th // 2
        draw.ellipse((kx - r, cy - r, kx + r, cy + r), fill=w.color if on else (245, 245, 245),
                     outline=(150, 150, 150) if not on else None)

    def _draw_label(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        self._text(draw, (x1, (y1 + y2) // 2), w.text, w.size or m.s(40), w.color, max_w=x2 - x1)

    def _draw_center_label(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        self._text(draw, ((x1 + x2) // 2, (y1 + y2) // 2), w.text, w.size or m.s(44), w.color, anchor="mm",
                   max_w=x2 - x1)

    def _draw_field(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        draw.rectangle(_inclusive(w.rect), fill=(255, 255, 255))
        line = w.color if w.focused else DIVIDER
        draw.line((x1, y2 - m.s(4), x2, y2 - m.s(4)), fill=line, width=max(1, m.s(5 if w.focused else 3)))
        size = m.s(46)
        fnt = font(size)
        if not w.text:
            draw.text((x1 + m.s(8), y1 + m.s(20)), w.hint, font=fnt, fill=(158, 158, 158))
            if w.focused:
                draw.line((x1 + m.s(8), y1 + m.s(16), x1 + m.s(8), y1 + m.s(16) + size), fill=w.color,
                          width=max(1, m.s(4)))
            return
        lines = _wrap(w.text, fnt, x2 - x1 - m.s(16))
        step = int(size * 1.3)
        maxlines = max(1, (y2 - y1 - m.s(20)) // step)
        shown = lines[-maxlines:]
        for i, text in enumerate(shown):
            draw.text((x1 + m.s(8), y1 + m.s(16) + i * step), text, font=fnt, fill=TEXT)
        if w.focused:
            cx = x1 + m.s(8) + int(fnt.getlength(shown[-1])) + m.s(3)
            cy = y1 + m.s(16) + (len(shown) - 1) * step
            draw.line((cx, cy, cx, cy + size), fill=w.color, width=max(1, m.s(4)))

    def _draw_button(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        draw.rounded_rectangle(w.rect, radius=m.s(16), fill=w.color)
        self._text(draw, ((x1 + x2) // 2, (y1 + y2) // 2), w.text.upper(), m.s(42), (255, 255, 255), bold=True,
                   anchor="mm")

    def _draw_textbutton(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        self._text(draw, ((x1 + x2) // 2, (y1 + y2) // 2), w.text.upper(), m.s(42), w.color, bold=True,
                   anchor="mm")

    def _draw_fab(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=w.color)
        cx, cy, a = (x1 + x2) // 2, (y1 + y2) // 2, m.s(34)
        lw = max(2, m.s(9))
        draw.line((cx - a, cy, cx + a, cy), fill=(255, 255, 255), width=lw)
        draw.line((cx, cy - a, cx, cy + a), fill=(255, 255, 255), width=lw)

    def _draw_icon(self, draw, img, w):
        # A launcher icon: rounded square with the label's initial, label underneath.
        m = self.m
        x1, y1, x2, y2 = w.rect
        size = m.s(168)
        ix1 = (x1 + x2 - size) // 2
        iy1 = y1 + m.s(20)
        draw.rounded_rectangle((ix1, iy1, ix1 + size, iy1 + size), radius=m.s(40), fill=w.color)
        draw.text((ix1 + size // 2, iy1 + size // 2), w.text[:1], font=font(m.s(96), True), fill=(255, 255, 255),
                  anchor="mm")
        self._text(draw, ((x1 + x2) // 2, iy1 + size + m.s(44)), w.text, m.s(38), (255, 255, 255), anchor="mm",
                   max_w=x2 - x1 - m.s(8))

    def _draw_keyboard(self, draw, img, w):
        draw.rectangle(_inclusive(w.rect), fill=KB_BG)

    def _draw_adbkeyboard(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        draw.rectangle(_inclusive(w.rect), fill=(60, 60, 60))
        self._text(draw, ((x1 + x2) // 2, (y1 + y2) // 2), w.text, m.s(40), (255, 255, 255), anchor="mm")

    def _draw_key(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        g = m.s(7)
        fn = w.rid.endswith(("shift", "delete", "symbols", "enter"))
        draw.rounded_rectangle((x1 + g, y1 + g, x2 - g, y2 - g), radius=m.s(12),
                               fill=KEY_FN_BG if fn else KEY_BG)
        label = w.text if w.text else w.desc
        self._text(draw, ((x1 + x2) // 2, (y1 + y2) // 2), label, m.s(44 if len(label) == 1 else 34), TEXT,
                   anchor="mm")

    def _draw_scrim(self, draw, img, w):
        # A dialog's dimmed background.
        overlay = Image.new("RGB", img.size, (0, 0, 0))
        img.paste(Image.blend(img, overlay, 0.5))

    def _draw_dialog(self, draw, img, w):
        m = self.m
        x1, y1, x2, y2 = w.rect
        draw.rounded_rectangle(w.rect, radius=m.s(28), fill=(255, 255, 255))
        self._text(draw, (x1 + m.pad, y1 + m.s(90)), w.text, m.s(50), TEXT, bold=True, max_w=x2 - x1 - 2 * m.pad)
        if w.hint:
            self._text(draw, (x1 + m.pad, y1 + m.s(180)), w.hint, m.s(40), SUBTEXT, max_w=x2 - x1 - 2 * m.pad)

    def _draw_off(self, draw, img, w):
        draw.rectangle(_inclusive(w.rect), fill=(0, 0, 0))


def _inclusive(rect: Rect) -> Rect:
    # Widget rectangles are half-open [x1, x2); PIL's rectangle() includes x2.
    x1, y1, x2, y2 = rect
    return x1, y1, x2 - 1, y2 - 1


def _tint(color: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(c + (255 - c) // 2 for c in color)  # type: ignore[return-value]


def _wrap(text: str, fnt, max_w: float) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for ch in para:
            if fnt.getlength(line + ch) > max_w and line:
                lines.append(line)
                line = ch
            else:
                line += ch
        lines.append(line)
    return lines


def hierarchy_xml(widgets: list[Widget], rotation: int, width: int, height: int,
                  transform: Callable[[Rect], Rect] | None = None) -> str:
    """The widget list as `uiautomator dump` XML, bounds in the display's coordinates."""
    out = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>", f'<hierarchy rotation="{rotation}">']
    root_pkg = next((w.pkg for w in widgets if w.pkg), "android")
    out.append(
        f'<node index="0" text="" resource-id="" class="android.widget.FrameLayout" package={quoteattr(root_pkg)} '
        'content-desc="" checkable="false" checked="false" clickable="false" enabled="true" focusable="false" '
        'focused="false" scrollable="false" long-clickable="false" password="false" selected="false" '
        f'bounds="[0,0][{width},{height}]">'
    )
    index = 0
    for w in widgets:
        if not w.visible() or w.style in ("scrim", "off"):
            continue
        rect = w.visible_rect()
        if transform is not None:
            rect = transform(rect)
        x1, y1, x2, y2 = rect
        b = lambda v: "true" if v else "false"  # noqa: E731
        focusable = w.cls == "android.widget.EditText" or w.clickable
        out.append(
            f'<node index="{index}" text={quoteattr(w.text)} resource-id={quoteattr(w.rid)} class={quoteattr(w.cls)} '
            f'package={quoteattr(w.pkg)} content-desc={quoteattr(w.desc)} checkable="{b(w.checkable)}" '
            f'checked="{b(w.checked)}" clickable="{b(w.clickable)}" enabled="true" focusable="{b(focusable)}" '
            f'focused="{b(w.focused)}" scrollable="{b(w.scrollable)}" long-clickable="{b(w.on_long is not None)}" '
            f'password="false" selected="false" bounds="[{x1},{y1}][{x2},{y2}]" />'
        )
        index += 1
        if w.style in ("row", "bigrow") and w.hint:
            # A row's second line is its own TextView (android:id/summary) on a phone.
            lx1, ly1, lx2, ly2 = w.visible_rect()
            sub = (lx1, (ly1 + ly2) // 2, lx2, ly2)
            x1, y1, x2, y2 = transform(sub) if transform is not None else sub
            out.append(
                f'<node index="{index}" text={quoteattr(w.hint)} resource-id="android:id/summary" '
                f'class="android.widget.TextView" package={quoteattr(w.pkg)} content-desc="" checkable="false" '
                'checked="false" clickable="false" enabled="true" focusable="false" focused="false" '
                'scrollable="false" long-clickable="false" password="false" selected="false" '
                f'bounds="[{x1},{y1}][{x2},{y2}]" />'
            )
            index += 1
    out.append("</node>")
    out.append("</hierarchy>")
    return "".join(out)
