"""Shared bits of the desktop suite's Tk apps: fixed geometry and the published widget layout.

Each app writes ``$GUIAGENT_LAYOUT_DIR/<app>.json`` = ``{"widgets": {name: [x, y, w, h]}}`` in
screen pixels whenever its window is mapped or moves. That is the ground truth the
oracle model reads to click a widget; a model under test never sees it.
"""

from __future__ import annotations

import json
import os
import tkinter as tk
from pathlib import Path
from typing import TypeVar, cast

W = TypeVar("W", bound=tk.Widget)

GEOMETRY = "720x480+60+40"  # Xvfb has no window manager: the app places itself
FONT = ("DejaVu Sans", 12)


class Layout:
    """Publishes the rectangles of named widgets of one app."""

    def __init__(self, root: tk.Tk, app: str) -> None:
        self.root = root
        self.app = app
        self.widgets: dict[str, tk.Widget] = {}
        folder = os.environ.get("GUIAGENT_LAYOUT_DIR")
        self.file = Path(folder) / f"{app}.json" if folder else None
        root.bind("<Configure>", lambda e: root.after_idle(self.publish), add="+")
        root.bind("<Map>", lambda e: root.after_idle(self.publish), add="+")

    def add(self, name: str, widget: W) -> W:
        self.widgets[name] = widget
        return widget

    def publish(self) -> None:
        if self.file is None:
            return
        self.root.update_idletasks()
        rects = {name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]
                 for name, w in self.widgets.items() if w.winfo_ismapped()}
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"app": self.app, "widgets": rects}))
        os.replace(tmp, self.file)


def _select_all_text(e: tk.Event[tk.Misc]) -> str:
    cast(tk.Text, e.widget).tag_add("sel", "1.0", "end-1c")
    return "break"


def _select_all_entry(e: tk.Event[tk.Misc]) -> str:
    entry = cast(tk.Entry, e.widget)
    entry.select_range(0, "end")
    entry.icursor("end")
    return "break"


def make_root(title: str) -> tk.Tk:
    root = tk.Tk()
    root.title(title)
    root.geometry(GEOMETRY)
    root.option_add("*Font", FONT)
    # Ctrl+A selects all, as in common editors (Tk's X11 default moves to the line start)
    root.bind_class("Text", "<Control-a>", _select_all_text)
    root.bind_class("Entry", "<Control-a>", _select_all_entry)
    return root
