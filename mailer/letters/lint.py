"""The render lint: mistakes that must never reach a client, checked on every letter. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOUBLED = re.compile(r"[!?.,;:]\s*[!?.,;:]")
_SPACE_BEFORE_COMMA = re.compile(r"\s,")
_TEMPLATE_MARKS = re.compile(r"\{\{|\}\}|\{%|%\}")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


class LetterLintError(ValueError):
    """The letter is blocked; `problems` says why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("letter blocked: " + "; ".join(problems))


@dataclass(frozen=True)
class LetterText:
    """What the lint reads: the finished parts and the greeting line inside them."""

    subject: str
    text: str
    html: str
    greeting: str
    surname: str = ""


def lint_letter(letter: LetterText) -> list[str]:
    """Every problem found; an empty list means the letter may be sent."""
    problems: list[str] = []
    # The greeting as the reader sees it: the text's first line, whatever the template did.
    line = letter.text.strip().partition("\n")[0].strip()
    if not letter.subject.strip():
        problems.append("empty subject")
    if not letter.greeting.strip() or not line.startswith(letter.greeting.strip()):
        problems.append("empty greeting")
    if _DOUBLED.search(line):
        problems.append(f"doubled punctuation in the greeting: {line!r}")
    for part, body in (("subject", letter.subject), ("text", letter.text), ("html", letter.html)):
        if _SPACE_BEFORE_COMMA.search(body):
            problems.append(f"a space before a comma in the {part}")
        if _TEMPLATE_MARKS.search(body):
            problems.append(f"an unresolved template mark in the {part}")
    surname_words = {w.casefold() for w in _WORD.findall(letter.surname) if len(w) > 1}
    if surname_words & {w.casefold() for w in _WORD.findall(line)}:
        problems.append("the surname is in the greeting")
    return problems


def check_letter(letter: LetterText) -> None:
    """Raise LetterLintError when the lint finds anything."""
    if problems := lint_letter(letter):
        raise LetterLintError(problems)
