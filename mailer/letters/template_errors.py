"""A template marketing edited that cannot render, told as where and what: the file, the
line and the unknown name, instead of Jinja's traceback. The error is a LetterLintError,
so the preview prints one line, the lint reports it and delivery fails the letter unsent.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import TracebackType

from jinja2 import TemplateSyntaxError, UndefinedError

from mailer.letters.lint import LetterLintError

# StrictUndefined's messages: "'x' is undefined", "'… object' has no attribute 'x'",
# "'dict object' has no element 'x'".
_UNDEFINED_NAME = re.compile(r"^'(.+?)' is undefined$|has no (?:attribute|element) '?([^']+)'?$")


class LetterTemplateError(LetterLintError):
    """A letter template that cannot render; `file`, `line` and `name` say where and what."""

    def __init__(self, file: str, line: int | None, problem: str, name: str = "") -> None:
        self.file, self.line, self.name = file, line, name
        where = f"{file}, line {line}" if line else file
        super().__init__([f"{where}: {problem}"])


def unknown_name(exc: UndefinedError, folder: Path) -> LetterTemplateError:
    """The template, line and name behind an undefined name met while rendering.

    Jinja rewrites a render's traceback so each template frame carries the template's
    file and line: the innermost one under `folder` is where the name was written (an
    included signature or layout included).
    """
    file, line = _innermost_template_frame(exc.__traceback__, folder)
    message = str(exc.message or exc)
    found = _UNDEFINED_NAME.search(message)
    name = next((g for g in found.groups() if g), message) if found else message
    return LetterTemplateError(
        _shown(file) if file else "a letter template", line, f"unknown name {name!r}", name
    )


def syntax_problem(exc: TemplateSyntaxError, folder: Path) -> LetterTemplateError:
    """A template that does not even compile (`{{ name }` and the like)."""
    file = exc.filename or (str(folder / exc.name) if exc.name else "")
    return LetterTemplateError(
        _shown(file) if file else "a letter template",
        exc.lineno,
        f"template syntax error: {exc.message}",
    )


def _innermost_template_frame(
    tb: TracebackType | None, folder: Path
) -> tuple[str | None, int | None]:
    root = str(folder.resolve())
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if os.path.realpath(filename).startswith(root + os.sep):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _shown(file: str) -> str:
    """The path as a person opens it: from the working directory when it is below it."""
    path = Path(file).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
