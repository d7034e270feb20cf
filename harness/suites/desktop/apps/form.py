"""A sign-up form: name, email, plan (radio buttons), newsletter checkbox, Submit.

``python -m harness.suites.desktop.apps.form [OUTPUT]``. Submit writes the values as
JSON to OUTPUT (default ``~/form.json``): ``{"name", "email", "plan", "subscribe"}``.
"""

from __future__ import annotations

import json
import sys
import tkinter as tk
from pathlib import Path

from guiagent.harness.suites.desktop.apps.common import Layout, make_root

PLANS = ("Basic", "Pro", "Team")


def main(argv: list[str]) -> int:
    out = Path(argv[0]).expanduser() if argv else Path.home() / "form.json"
    root = make_root("Sign up - Form")
    layout = Layout(root, "form")
    body = tk.Frame(root)
    body.pack(fill="both", expand=True, padx=16, pady=16)

    name = tk.StringVar()
    email = tk.StringVar()
    plan = tk.StringVar(value=PLANS[0])
    subscribe = tk.BooleanVar(value=False)

    tk.Label(body, text="Name").grid(row=0, column=0, sticky="w", pady=6)
    layout.add("name", tk.Entry(body, textvariable=name, width=32)).grid(row=0, column=1, sticky="w")
    tk.Label(body, text="Email").grid(row=1, column=0, sticky="w", pady=6)
    layout.add("email", tk.Entry(body, textvariable=email, width=32)).grid(row=1, column=1, sticky="w")
    tk.Label(body, text="Plan").grid(row=2, column=0, sticky="w", pady=6)
    plans = tk.Frame(body)
    plans.grid(row=2, column=1, sticky="w")
    for p in PLANS:
        layout.add(f"plan_{p.lower()}", tk.Radiobutton(plans, text=p, value=p, variable=plan)).pack(side="left")
    layout.add("subscribe", tk.Checkbutton(body, text="Send me the newsletter", variable=subscribe)).grid(
        row=3, column=1, sticky="w", pady=6)
    status = tk.Label(body, text="")
    status.grid(row=5, column=1, sticky="w")

    def submit() -> None:
        data = {"name": name.get(), "email": email.get(), "plan": plan.get(), "subscribe": bool(subscribe.get())}
        out.write_text(json.dumps(data, indent=1), encoding="utf-8")
        status.config(text="Thank you! Submitted.")

    layout.add("submit", tk.Button(body, text="Submit", command=submit)).grid(row=4, column=1, sticky="w", pady=12)
    root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
