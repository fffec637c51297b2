"""Errors raised by the audience filter language."""

from __future__ import annotations


class FilterError(ValueError):
    """A filter was refused.

    ``problem`` is the short description, ``position`` the 0-based offset of the offending token
    in ``text`` (``len(text)`` for "unexpected end"), ``line``/``column`` its 1-based location.
    ``str(error)`` is the full message: the problem with its location and hint, then the filter
    line and a caret line pointing at the token.
    """

    def __init__(
        self,
        problem: str,
        text: str = "",
        position: int = 0,
        length: int = 1,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.text = text
        self.position = max(0, min(position, len(text)))
        self.length = max(1, length)
        self.hint = hint
        before = text[: self.position]
        self.line = before.count("\n") + 1
        line_start = before.rfind("\n") + 1
        self.column = self.position - line_start + 1
        line_end = text.find("\n", self.position)
        if line_end < 0:
            line_end = len(text)
        source_line = text[line_start:line_end]
        where = f"column {self.column}"
        if "\n" in text:
            where = f"line {self.line}, {where}"
        headline = f"{problem} at {where}"
        if hint:
            headline += f" ({hint})"
        self.headline = headline
        # keep tabs in the caret line so the caret lines up under the token
        pad = "".join(ch if ch == "\t" else " " for ch in source_line[: self.column - 1])
        width = max(1, min(self.length, len(source_line) - (self.column - 1)))
        message = f"{headline}\n  {source_line}\n  {pad}{'^' * width}" if text else headline
        super().__init__(message)


class AudienceFileError(ValueError):
    """An audience file (or one audience in it) is malformed or its filter was refused."""

    def __init__(self, message: str, audience: str | None = None, key: str | None = None) -> None:
        self.audience = audience
        self.key = key
        super().__init__(message)
