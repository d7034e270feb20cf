"""The environment interface: observe a screenshot, execute an action in screen units."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from guiagent.tools.actions import Action, ActionSpace
    from guiagent.tools.frame import Screenshot


# Optional Screenshot.meta keys an env may set on each observation: SEQ_KEY, its number (1, 2, …
# per env); CHANGED_KEY, whether its pixels differ from the observation numbered one less. The
# agent loop's stall rule reads CHANGED_KEY when the two observations it compares are
# consecutive, instead of comparing the images itself (the env compared its raw captures).
SEQ_KEY = "seq"
CHANGED_KEY = "changed"


class EnvError(Exception):
    """An env failure that ends the run (device lost, display gone); `reason` names the ending."""

    def __init__(self, message: str, reason: str = "env_error") -> None:
        super().__init__(message)
        self.reason = reason


class ActionError(Exception):
    """An action the env refuses (unknown key name, text it cannot type); fed back to the model."""


class Env:
    """Base class of environments.

    `execute` receives actions already mapped to screen coordinates. `terminate` never
    reaches an env, nor does `wait` unless the env `performs_waits`: the agent handles them.

    Callers read only the members declared here (the agent loop `settles`, the harness
    `alive`); an env overrides the defaults that do not fit it.
    """

    space: ActionSpace  # a class constant for most envs; replay and remote envs learn it when opened
    name: str = "env"

    def observe(self) -> Screenshot:
        raise NotImplementedError

    def execute(self, action: Action) -> None:
        raise NotImplementedError

    performs_waits: ClassVar[bool] = False
    """True for an env that is handed `wait` actions to perform itself (one whose caller executes the
    decided actions, such as `agent.stepper`'s); the agent loop then does not sleep for them."""

    @property
    def settles(self) -> bool:
        """True when `observe` itself waits for the screen to settle after an action, so the agent loop
        skips its own screenshot-comparing settle (the wait is not paid twice). Default: False."""
        return False

    def alive(self) -> bool:
        """Whether the env still works (browser, display or child process up); the harness replaces an env
        that is not. Default: True (an env that cannot tell is assumed alive)."""
        return True

    def describe(self) -> dict[str, Any]:
        """Facts about the env for the trajectory metadata (device model, display, monitor)."""
        return {"env": self.name}

    def close(self) -> None:
        """Release the display, device connection or browser."""

    def __enter__(self) -> Env:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
