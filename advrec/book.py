"""What the chapters share: showing library code, stating claims, showing settings and stored runs.

- :func:`show_source` -- the few lines that matter, without docstrings: the book shows library
  code rather than copies of it, so a chapter cannot drift from what it runs.
- :func:`claim` -- a claim the prose makes about a result, checked when the chapter runs
  (and only reported in a smoke run on synthetic data, where no result claim is expected to hold).
- :func:`show_config` -- a recipe's settings, with where each default comes from.
- :func:`plot_stored_curves` -- the validation curves of a stored run, one line per seed.
- :func:`show_error` -- runs code that is expected to fail (e.g. the source article's, as
  printed) and shows the error it raises.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from collections.abc import Callable
from typing import Any

SMOKE_ENV = "ADVREC_SMOKE"
"""Set to ``1`` by the chapter smoke test (``make smoke``): chapters run on small synthetic data,
where the claims about MovieLens results do not hold, so :func:`claim` reports instead of
failing."""


def smoke_run() -> bool:
    """Whether this is a smoke run (:data:`SMOKE_ENV`)."""
    return os.environ.get(SMOKE_ENV) == "1"


def claim(holds: bool, statement: str) -> None:
    """Checks a claim the chapter's prose makes about a result: raises ``AssertionError`` with
    ``statement`` when it does not hold, so the notebook test fails when the claim stops being
    true. In a smoke run (:func:`smoke_run`) it only prints a failed claim."""
    if holds:
        return
    if smoke_run():
        print(f"(smoke run) claim not met: {statement}")
        return
    raise AssertionError(f"the chapter claims: {statement}")


def show_config(config: Any) -> None:
    """Displays a recipe config as a Markdown table (setting, value, meaning, source)."""
    from IPython.display import Markdown, display

    from advrec.recipes.base import config_table

    display(Markdown(config_table(config)))


def plot_stored_curves(ax, result, phase: str, metric: str, label: str, color=None) -> None:
    """Draws every seed's validation ``metric`` of ``phase`` of a stored run (thin lines) and
    marks each seed's kept epoch; ``result`` is :func:`advrec.recipes.stored.load_stored`'s."""
    for index, seed in enumerate(result.seeds):
        history = result.history(seed, phase)
        line = ax.plot(
            history["epoch"],
            history[metric],
            color=color,
            alpha=0.7,
            linewidth=1,
            label=label if index == 0 else None,
        )[0]
        best = result.best_epoch(seed, phase)
        if best in history["epoch"]:
            at = history["epoch"].index(best)
            ax.plot([best], [history[metric][at]], "o", color=line.get_color(), markersize=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")


def show_error(call: Callable[[], Any]) -> Exception:
    """Calls ``call()``, prints the exception it raises (type and the start of its message) and
    returns it; raises ``AssertionError`` when it raises none (the chapter expected a failure)."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - whatever the code shown raises is the point
        print(f"{type(error).__name__}: {str(error)[:200]}")
        return error
    raise AssertionError("the code was expected to fail here, but it ran")


def source_without_docstring(function: Callable) -> str:
    """The dedented source of ``function`` (a function, method or class) minus its docstring.

    Raises:
        TypeError: ``function`` has no Python source (a builtin, or defined interactively).
    """
    try:
        lines = inspect.getsource(function).splitlines()
    except (OSError, TypeError) as error:
        raise TypeError(
            f"no source code found for {function!r}: show_source needs a function or class "
            "defined in a Python file (not a builtin or a lambda typed at a prompt)."
        ) from error
    dedented = textwrap.dedent("\n".join(lines))
    definition = ast.parse(dedented).body[0]
    first = definition.body[0] if getattr(definition, "body", None) else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        if isinstance(first.value.value, str):
            lines = lines[: first.lineno - 1] + lines[first.end_lineno :]
    return textwrap.dedent("\n".join(lines))


def show_source(function: Callable) -> None:
    """Prints :func:`source_without_docstring` of ``function``."""
    print(source_without_docstring(function))
