"""One error family for user mistakes, and one renderer for all of them.

Every mistake in a spec or on the command line becomes a ``SpecError`` (or ``UsageError``)
and is rendered the same way::

    spec.phase:3:21: error: unknown name `thetta`
        3 | energy K = (w + 1 - thetta)^2
          |                     ^^^^^^
      expected: a name defined in this spec (did you mean `theta`?)
      found: `thetta`
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from .ast import Span


@dataclass(frozen=True)
class Diagnostic:
    """A located message: an error, or a warning returned by the checker."""

    message: str
    span: Span | None = None
    expected: str | None = None
    found: str | None = None
    notes: tuple[str, ...] = field(default=())
    severity: str = "error"

    def render(self, source: str | None, filename: str) -> str:
        """Text of the message: ``FILE:LINE:COL: severity: message``, source line, caret."""
        filename, message = printable(filename), printable(self.message)
        if self.span is None or self.span.line <= 0:
            out = [f"{filename}: {self.severity}: {message}"]
        else:
            out = [f"{filename}:{self.span.line}:{self.span.column}: {self.severity}: {message}"]
            # lines as the parser counts them: "\n" only (str.splitlines also breaks at
            # \f, \v, \x1c-\x1e, \x85, U+2028/9 and would show another line)
            lines = (source or "").split("\n")
            if 0 < self.span.line <= len(lines):
                text, start = _window(lines[self.span.line - 1].rstrip(), self.span.column - 1)
                gutter = str(self.span.line)
                out.append(f"  {gutter} | {text}")
                if self.span.end_line == self.span.line and self.span.end_column > self.span.column:
                    width = self.span.end_column - self.span.column
                else:
                    width = 1
                width = max(1, min(width, max(1, len(text) - start)))
                out.append(f"  {' ' * len(gutter)} | {' ' * start}{'^' * width}")
        if self.expected:
            out.append(f"  expected: {printable(self.expected)}")
        if self.found:
            out.append(f"  found: {printable(self.found)}")
        out.extend(f"  note: {printable(note)}" for note in self.notes)
        return "\n".join(out)


WINDOW = 200  # characters of a source line shown under a message (a long line is cut)


def _window(line: str, start: int) -> tuple[str, int]:
    """The source line as shown (``printable``; a line longer than ``WINDOW`` cut to the
    part around column ``start``, its cuts marked ``...``) and the caret's column in it."""
    if len(line) <= WINDOW:
        return printable(line), start
    lo = max(0, min(start - WINDOW // 4, len(line) - WINDOW))
    head = "..." if lo > 0 else ""
    tail = "..." if lo + WINDOW < len(line) else ""
    return head + printable(line[lo: lo + WINDOW]) + tail, start - lo + len(head)


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences, carriage
    returns, form feeds ...) shown as ``\\x1b``, one character each way, so a caret still
    lines up with the characters before it only where there are none."""
    return "".join(ch if ch == "\t" or (ch.isprintable() or ch == " ") else
                   ascii(ch)[1:-1] for ch in text)


class PhaseDSLError(Exception):
    """Base of every error that is the user's to fix (exit code 1 or 2, never a traceback)."""

    exit_code = 1

    def render(self) -> str:  # pragma: no cover - overridden
        return str(self)


class SpecError(PhaseDSLError):
    """A mistake in a .phase file."""

    exit_code = 1

    def __init__(self, diagnostic: Diagnostic, source: str | None = None, filename: str = "<spec>"):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.source = source
        self.filename = filename

    def located(self, source: str, filename: str) -> "SpecError":
        """The same error, attached to a file's text (for errors raised before it was known)."""
        return type(self)(self.diagnostic, source, filename)

    def render(self) -> str:
        return self.diagnostic.render(self.source, self.filename)


class PosteriorError(SpecError):
    """A spec that checks but whose posterior cannot be sampled: a log density that is NaN
    or +inf where the prior is positive, or zero everywhere, at some sweep value (exit code
    1: the spec's model is at fault). Located at the model (the energy, or the network)."""

    exit_code = 1


class UsageError(PhaseDSLError):
    """A mistake on the command line (exit code 2)."""

    exit_code = 2

    def render(self) -> str:
        return f"phasedsl: error: {printable(str(self.args[0]))}"


def error(message: str, span: Span | None, expected: str | None = None,
          found: str | None = None, notes: tuple[str, ...] = ()) -> SpecError:
    """A ``SpecError`` not yet attached to its file (the checker attaches it)."""
    return SpecError(Diagnostic(message, span, expected, found, tuple(notes)))


def did_you_mean(word: str, candidates) -> str:
    """`` (did you mean `x`?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
