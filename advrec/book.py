"""What the chapters share for presenting code: the few lines that matter, without docstrings.

The book shows library code rather than copies of it, so a chapter cannot drift from what it
runs. :func:`source_without_docstring` is the text; :func:`show_source` prints it.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable


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
