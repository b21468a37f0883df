"""advrec.book: the code a chapter shows is the library's code, docstring removed."""

import pytest

from advrec.book import show_source, source_without_docstring


def documented(x: int) -> int:
    """A docstring
    over two lines."""
    y = x + 1
    return y


class Holder:
    def method(self) -> str:
        """One line."""
        return "kept"


def undocumented():
    "not a docstring to keep"  # still the first statement: it is a docstring and goes
    return 1


def test_docstring_removed_code_kept():
    text = source_without_docstring(documented)
    assert "docstring" not in text and "over two lines" not in text
    assert text.splitlines() == ["def documented(x: int) -> int:", "    y = x + 1", "    return y"]


def test_method_is_dedented():
    assert source_without_docstring(Holder.method).splitlines() == [
        "def method(self) -> str:",
        '    return "kept"',
    ]


def test_single_quoted_docstring_removed():
    assert "not a docstring" not in source_without_docstring(undocumented)


def test_prints(capsys):
    show_source(documented)
    assert "y = x + 1" in capsys.readouterr().out


def test_builtin_is_refused_with_a_reason():
    with pytest.raises(TypeError, match="no source code"):
        source_without_docstring(len)


def test_show_error_prints_and_returns_the_error_and_insists_on_one(capsys):
    from advrec.book import show_error

    error = show_error(lambda: int("x"))
    assert isinstance(error, ValueError)
    assert capsys.readouterr().out.startswith("ValueError: invalid literal")
    with pytest.raises(AssertionError, match="expected to fail"):
        show_error(lambda: 1)
