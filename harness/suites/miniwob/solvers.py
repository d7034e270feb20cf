"""Ground-truth solvers of the miniwob suite, for the oracle model.

Each solver reads the live page (element rectangles in CSS pixels, values, focus,
checked state) and returns the next action in SCREEN coordinates, or None when the
episode is over. They are stateless: every step re-reads the page, so a solver also
recovers when an action did not land (a real model's run cannot be replayed here, but
the oracle's own mistakes show up as failures, not as silent skips).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from guiagent.tools.actions import Key, LeftClick, Scroll, Type

if TYPE_CHECKING:
    from guiagent.envs.browser import BrowserEnv
    from guiagent.tools.actions import Action

# The first visible element matching a selector (and, if given, an exact trimmed text), with a point
# where a click reaches it: MiniWoB places some widgets over others (click-button-sequence's buttons
# overlap on some seeds), so the centre of the rectangle may belong to another element.
_FIND_JS = """
function reach(e, b) {
  var at = [[.5, .5], [.3, .5], [.7, .5], [.5, .3], [.5, .7], [.15, .5], [.85, .5], [.5, .15], [.5, .85],
            [.15, .15], [.85, .15], [.15, .85], [.85, .85]];
  for (var i = 0; i < at.length; i++) {
    var x = b.left + b.width * at[i][0], y = b.top + b.height * at[i][1];
    var t = document.elementFromPoint(x, y);
    if (t && (t === e || e.contains(t))) return [x, y];
  }
  return [b.left + b.width / 2, b.top + b.height / 2];
}
var els = Array.from(document.querySelectorAll(arguments[0]));
for (var i = 0; i < els.length; i++) {
  var e = els[i];
  if (arguments[1] !== null && e.textContent.trim() !== arguments[1]) continue;
  var b = e.getBoundingClientRect();
  if (b.width === 0 || b.height === 0) continue;
  var st = window.getComputedStyle(e);
  if (st.visibility === 'hidden' || st.display === 'none') continue;
  var p = reach(e, b);
  return {x: p[0], y: p[1], w: b.width, h: b.height,
          value: (e.value === undefined ? null : e.value), checked: !!e.checked,
          focused: document.activeElement === e, scrollTop: e.scrollTop, scrollHeight: e.scrollHeight,
          offsetHeight: e.offsetHeight};
}
return null;
"""


class SolverError(RuntimeError):
    """The page does not look as the solver expects."""


def find(env: BrowserEnv, selector: str, text: str | None = None) -> dict:
    el = env.js(_FIND_JS, selector, text)
    if el is None:
        raise SolverError(f"no visible element {selector!r}" + (f" with text {text!r}" if text else ""))
    return el


def click(el: dict) -> Action:
    return LeftClick(coordinate=(el["x"], el["y"]))


def fill(env: BrowserEnv, selector: str, text: str) -> Action | None:
    """Next action to make the field hold `text` (click to focus, select all, type); None when it does."""
    el = find(env, selector)
    if el["value"] == text:
        return None
    if not el["focused"]:
        return click(el)
    if el["value"]:
        return Key(keys=["ctrl", "a"])  # typing then replaces the selection
    return Type(text=text)


def _first(*actions: Callable[[], Action | None]) -> Action:
    for make in actions:
        a = make()
        if a is not None:
            return a
    raise SolverError("no step applies")  # unreached: each task's last step is a click


# ---------------------------------------------------------------------- per task


def _click_test(env: BrowserEnv, f: dict) -> Action:
    return click(find(env, "#subbtn"))


def _click_button_text(env: BrowserEnv, f: dict) -> Action:
    return click(find(env, "#area button", f["target"]))


def _click_button_sequence(env: BrowserEnv, f: dict) -> Action:
    pushed = env.js("return buttonsPushed.length;")
    return click(find(env, "#subbtn" if pushed == 0 else "#subbtn2"))


def _click_checkboxes(env: BrowserEnv, f: dict) -> Action:
    targets = [v for k, v in f.items() if k.startswith("target")]
    labels = env.js("""
        return Array.from(document.querySelectorAll('#boxes label')).map(function (l) {
          var i = l.querySelector('input'); var b = i.getBoundingClientRect();
          return {text: l.textContent.trim(), checked: i.checked, x: b.left + b.width / 2, y: b.top + b.height / 2};
        });""")
    for lab in labels:
        if (lab["text"] in targets) != lab["checked"]:
            return click(lab)
    return click(find(env, "#subbtn"))


def _click_link(env: BrowserEnv, f: dict) -> Action:
    return click(find(env, "#area span.alink", f["target"]))


def _click_tab(env: BrowserEnv, f: dict) -> Action:
    return click(find(env, f'#area ul a[href="#tabs-{f["target"]}"]'))


def _click_dialog(env: BrowserEnv, f: dict) -> Action:
    return click(find(env, ".ui-dialog-titlebar button"))


def _click_dialog_2(env: BrowserEnv, f: dict) -> Action:
    if f["target"] == "x":
        return click(find(env, ".ui-dialog-titlebar button"))
    return click(find(env, ".ui-dialog-buttonpane button", f["target"]))


def _click_option(env: BrowserEnv, f: dict) -> Action:
    radio = env.js("""
        var ls = Array.from(document.querySelectorAll('#boxes label'));
        for (var i = 0; i < ls.length; i++) {
          if (ls[i].textContent.trim() !== arguments[0]) continue;
          var r = ls[i].querySelector('input'); var b = r.getBoundingClientRect();
          return {checked: r.checked, x: b.left + b.width / 2, y: b.top + b.height / 2};
        }
        return null;""", f["target"])
    if radio is None:
        raise SolverError(f"no option {f['target']!r}")
    return click(radio) if not radio["checked"] else click(find(env, "#subbtn"))


def _enter_text(env: BrowserEnv, f: dict) -> Action:
    return _first(lambda: fill(env, "#tt", f["target"]), lambda: click(find(env, "#subbtn")))


def _enter_text_2(env: BrowserEnv, f: dict) -> Action:
    text = f["text"].upper() if f["case"] == "upper" else f["text"].lower()
    return _first(lambda: fill(env, "#tt", text), lambda: click(find(env, "#subbtn")))


def _enter_password(env: BrowserEnv, f: dict) -> Action:
    return _first(lambda: fill(env, "#password", f["target"]), lambda: fill(env, "#verify", f["target"]),
                  lambda: click(find(env, "#subbtn")))


def _login_user(env: BrowserEnv, f: dict) -> Action:
    return _first(lambda: fill(env, "#username", f["username"]), lambda: fill(env, "#password", f["password"]),
                  lambda: click(find(env, "#subbtn")))


def _focus_text(env: BrowserEnv, f: dict) -> Action:
    return click(find(env, "#tt"))


def _focus_text_2(env: BrowserEnv, f: dict) -> Action:
    return click(find(env, f"#tt{f['target']}"))


def _scroll_text_2(env: BrowserEnv, f: dict) -> Action:
    area = find(env, "#text-area")
    at_bottom = area["scrollTop"] + area["offsetHeight"] >= area["scrollHeight"] - 5
    at_top = area["scrollTop"] <= 2
    if f["target"] == "bottom" and not at_bottom:
        return Scroll(pixels=-200, coordinate=(area["x"], area["y"]))  # negative pixels scroll down
    if f["target"] == "top" and not at_top:
        return Scroll(pixels=200, coordinate=(area["x"], area["y"]))
    return click(find(env, "#subbtn"))


def _click_collapsible(env: BrowserEnv, f: dict) -> Action:
    if env.js("return $('.ui-accordion-content:visible').length;") == 0:
        return click(find(env, "#area h3"))
    return click(find(env, "#subbtn"))


def _click_widget(env: BrowserEnv, f: dict) -> Action:
    # the widget's own element carries data-type; clicking it bubbles to its .widget handler
    return click(find(env, f'#area [data-type="{f["target"]}"]'))


SOLVERS: dict[str, Callable[[BrowserEnv, dict], Action]] = {
    "click-test": _click_test,
    "click-test-2": _click_button_text,
    "click-button": _click_button_text,
    "click-button-sequence": _click_button_sequence,
    "click-checkboxes": _click_checkboxes,
    "click-link": _click_link,
    "click-tab": _click_tab,
    "click-dialog": _click_dialog,
    "click-dialog-2": _click_dialog_2,
    "click-option": _click_option,
    "click-collapsible": _click_collapsible,
    "click-widget": _click_widget,
    "enter-text": _enter_text,
    "enter-text-2": _enter_text_2,
    "enter-password": _enter_password,
    "login-user": _login_user,
    "focus-text": _focus_text,
    "focus-text-2": _focus_text_2,
    "scroll-text-2": _scroll_text_2,
}


def solve(env: Any, step: int) -> Action | None:
    """The next action for the env's current MiniWoB episode; None once MiniWoB says it is done."""
    if env.reward().get("done"):
        return None
    solver = SOLVERS.get(env.task)
    if solver is None:
        raise SolverError(f"no oracle solver for MiniWoB task {env.task!r}")
    return solver(env, env.fields())


__all__ = ["SOLVERS", "SolverError", "solve"]
