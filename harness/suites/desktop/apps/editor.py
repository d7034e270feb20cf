"""A small text editor: a path field, a text area, a Save button (Ctrl+S saves too).

``python -m harness.suites.desktop.apps.editor [FILE]``. The window title is
``<file name> - Editor`` (``Untitled - Editor`` without a file); saving writes the
text area's content to the path in the field (relative paths are relative to $HOME).
"""

from __future__ import annotations

import os
import sys
import tkinter as tk
from pathlib import Path

from guiagent.harness.suites.desktop.apps.common import Layout, make_root


def main(argv: list[str]) -> int:
    path = Path(argv[0]).expanduser() if argv else None
    root = make_root(f"{path.name if path else 'Untitled'} - Editor")
    layout = Layout(root, "editor")

    top = tk.Frame(root)
    top.pack(fill="x", padx=8, pady=8)
    tk.Label(top, text="File:").pack(side="left")
    path_var = tk.StringVar(value=str(path) if path else "")
    layout.add("path", tk.Entry(top, textvariable=path_var, width=40)).pack(side="left", padx=6)
    save = layout.add("save", tk.Button(top, text="Save"))
    save.pack(side="left")
    status = tk.Label(root, text="", anchor="w")
    status.pack(fill="x", padx=8)

    text = layout.add("text", tk.Text(root, wrap="word", undo=True))
    text.pack(fill="both", expand=True, padx=8, pady=(0, 8))
    if path is not None and path.is_file():
        text.insert("1.0", path.read_text(encoding="utf-8"))
        text.edit_reset()

    def do_save(event: object = None) -> str:
        raw = path_var.get().strip()
        if not raw:
            status.config(text="Enter a file name first")
            return "break"
        target = Path(raw).expanduser()
        if not target.is_absolute():
            target = Path(os.environ.get("HOME", ".")) / target
        try:
            target.write_text(text.get("1.0", "end-1c"), encoding="utf-8")
        except OSError as exc:
            status.config(text=f"Cannot save: {exc}")
            return "break"
        root.title(f"{target.name} - Editor")
        status.config(text=f"Saved {target.name}")
        return "break"

    save.config(command=do_save)
    root.bind_all("<Control-s>", do_save)
    text.focus_set()
    root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
