"""A small Tk app that logs where input landed, for the desktop env's real-X tests.

A borderless window covers the whole screen at +0+0: a white Canvas everywhere and
an Entry (focused at start) at ENTRY_BOX. Every press, release, drag motion (button 1
held), wheel click, double click and key event is appended to the log file as one
JSON line with ROOT (screen) coordinates. Commands arrive one per line on stdin:

  sync N              process every pending X event, then log {"type": "sync", "n": N}
  entry               log {"type": "entry", "text": <the Entry's content>}
  reset               clear the Entry and the drawings, give the Entry the focus
  draw X Y W H COLOR  fill the screen rectangle [X, X+W) x [Y, Y+H) with COLOR
  quit

Usage: python tk_logger.py LOGFILE [--paint]
  --paint  also draw a small mark at every press, so each click changes the screen
           (the step-overhead benchmark needs that; the tests compare exact pixels
           and run without it)
"""

from __future__ import annotations

import json
import os
import sys
import tkinter as tk

ENTRY_BOX = (20, 20, 600, 32)  # x, y, width, height on the screen


class Logger:
    def __init__(self, log_path: str, paint: bool = False) -> None:
        self.paint = paint
        self.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the app
        self.root = tk.Tk()
        root = self.root
        sw, sh = root.winfo_screenwidth(), root.winfo_screenheight()
        root.overrideredirect(True)
        root.geometry(f"{sw}x{sh}+0+0")
        self.canvas = tk.Canvas(root, width=sw, height=sh, bg="#ffffff", highlightthickness=0, bd=0)
        self.canvas.place(x=0, y=0, width=sw, height=sh)
        self.entry = tk.Entry(root, font=("TkFixedFont", 12))
        x, y, w, h = ENTRY_BOX
        self.entry.place(x=x, y=y, width=w, height=h)

        # Mouse events on the "all" tag, keys and double clicks on the toplevel's tag: a second
        # press is then logged as a press *and* a double click, and Tk's own <Alt-Key> binding
        # on "all" (menu traversal) cannot shadow the key logger.
        root.bind_all("<ButtonPress>", self.on_press)
        root.bind_all("<ButtonRelease>", self.on_release)
        root.bind_all("<B1-Motion>", lambda e: self.emit("motion", e, button=1))
        root.bind_all("<MouseWheel>", self.on_wheel)  # Tk >= 8.7 turns X11 buttons 4/5 into this
        root.bind("<KeyPress>", self.on_key)
        root.bind("<KeyRelease>", self.on_key_release)
        root.bind("<Double-Button-1>", lambda e: self.emit("double", e, button=1))

        root.tk.createfilehandler(sys.stdin, tk.READABLE, self.on_stdin)
        self.pending = b""
        root.after(0, self.start)

    def start(self) -> None:
        self.root.wait_visibility(self.root)
        self.root.update()
        self.entry.focus_force()
        self.root.update()
        self.write({"type": "ready", "width": self.root.winfo_width(), "height": self.root.winfo_height(),
                    "x": self.root.winfo_rootx(), "y": self.root.winfo_rooty(), "entry": list(ENTRY_BOX),
                    "tk": self.root.tk.call("info", "patchlevel")})

    # ------------------------------------------------------------------ events

    def write(self, record: dict) -> None:
        self.log.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.log.flush()

    def emit(self, kind: str, e: tk.Event, **extra) -> None:
        self.write({"type": kind, "x": e.x_root, "y": e.y_root, **extra})

    def on_press(self, e: tk.Event) -> None:
        if e.num in (4, 5):
            self.emit("wheel", e, direction="up" if e.num == 4 else "down")
        else:
            self.emit("press", e, button=e.num)
            if self.paint:
                x, y = e.x_root, e.y_root
                self.canvas.create_rectangle(x - 2, y - 2, x + 2, y + 2, fill="#1f4e8c", outline="", tags="drawn")

    def on_release(self, e: tk.Event) -> None:
        if e.num not in (4, 5):
            self.emit("release", e, button=e.num)

    def on_wheel(self, e: tk.Event) -> None:
        self.emit("wheel", e, direction="up" if e.delta > 0 else "down")

    def on_key(self, e: tk.Event) -> None:
        self.write({"type": "key", "keysym": e.keysym, "state": e.state, "char": e.char, "keycode": e.keycode})

    def on_key_release(self, e: tk.Event) -> None:
        self.write({"type": "key_release", "keysym": e.keysym, "state": e.state, "entry": self.entry.get()})

    # ------------------------------------------------------------------ commands

    def on_stdin(self, fd, mask) -> None:
        chunk = os.read(sys.stdin.fileno(), 65536)
        if not chunk:
            self.root.destroy()
            return
        self.pending += chunk
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            self.command(line.decode().split())

    def command(self, args: list[str]) -> None:
        if not args:
            return
        cmd = args[0]
        if cmd == "sync":
            # `update` XSyncs and handles every event the server has queued for us,
            # so everything injected before this command is in the log before the marker.
            self.root.update()
            self.write({"type": "sync", "n": int(args[1])})
        elif cmd == "entry":
            self.root.update()
            self.write({"type": "entry", "text": self.entry.get()})
        elif cmd == "reset":
            self.entry.delete(0, tk.END)
            self.canvas.delete("drawn")
            self.entry.focus_force()
            self.root.update()
        elif cmd == "draw":
            x, y, w, h = (int(v) for v in args[1:5])
            self.canvas.create_rectangle(x, y, x + w, y + h, fill=args[5], outline="", tags="drawn")
            self.root.update()
        elif cmd == "quit":
            self.root.destroy()


def main() -> None:
    app = Logger(sys.argv[1], paint="--paint" in sys.argv[2:])
    app.root.mainloop()


if __name__ == "__main__":
    main()
