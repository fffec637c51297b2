"""Tokeniser, AST and recursive-descent parser for audience filters.

Grammar (keywords are case-insensitive)::

    filter     := or_expr EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | primary
    primary    := "(" or_expr ")" | condition
    condition  := ATTRIBUTE op value
                | ATTRIBUTE ["not"] "in" "(" value ("," value)* ")"
                | ATTRIBUTE ["not"] "contains" value
                | ATTRIBUTE "is" ["not"] "null"
    op         := "=" | "!=" | "<>" | ">" | ">=" | "<" | "<="
    value      := QUOTED | BARE

Precedence: ``not`` binds tighter than ``and``, which binds tighter than ``or``.
``a not in (...)`` / ``a not contains v`` mean ``not a in (...)`` / ``not a contains v``.

Tokens:

* Whitespace separates tokens.  ``(`` ``)`` ``,`` and the operators are tokens of their own.
* QUOTED: text in single or double quotes.  The quote character is written inside the value by
  doubling it (``'Kid''s Shoes'``, ``"6"" screens"``); a backslash is an ordinary character.
  Control characters (including newlines) are not allowed inside quotes.
* A word is a maximal run of characters that are not whitespace, quotes, ``(``, ``)``, ``,``,
  ``=``, ``!``, ``<`` or ``>``.  An attribute is a word shaped like ``[A-Za-z_][A-Za-z0-9_]*``.
* BARE: the maximal run of words that are not the standalone keywords ``and``/``or``, ending at
  ``,``, ``)``, ``(``, an operator, a quote, the end of the filter, or a standalone ``and``/``or``.
  The words are joined by single spaces, so ``Loyal   Customers`` is ``Loyal Customers`` and
  ``Technology & Computing`` is one value.  A single ``>`` between two words is kept as a path
  separator, rendered `` > ``: ``Apparel>Shoes`` and ``Apparel > Shoes`` are both
  ``Apparel > Shoes``.  Anything else (a value containing ``and``/``or`` as words, a comma,
  parentheses, another operator, leading/trailing spaces, or that must keep its exact spacing)
  must be quoted.  Other keywords (``in``, ``not``, ``is``, ...) may appear inside a bare value.
* The bare single word ``null`` is not a value (write ``is null``); ``true``/``false`` are the
  boolean values; numbers are ``[+-]digits[.digits]`` (no exponent, at most 38 digits).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .errors import FilterError

MAX_DEPTH = 64
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SPECIAL = frozenset("(),=!<>'\"")
_OPERATORS = {"=": "=", "!=": "!=", "<>": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
KEYWORDS = frozenset({"and", "or", "not", "in", "contains", "is", "null", "true", "false"})

WORD, STRING, OP, LPAREN, RPAREN, COMMA, EOF = (
    "word",
    "quoted value",
    "operator",
    "(",
    ")",
    ",",
    "end of filter",
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # source text (for STRING: the unescaped value)
    pos: int
    end: int

    def is_kw(self, *words: str) -> bool:
        return self.kind == WORD and self.text.lower() in words

    def describe(self) -> str:
        if self.kind == EOF:
            return "the end of the filter"
        if self.kind == WORD:
            if self.text.lower() in KEYWORDS:
                return f"keyword '{self.text}'"
            return f"'{self.text}'"
        if self.kind == STRING:
            return f"quoted value {_quote(self.text)}"
        return f"'{self.text}'"


# ---------------------------------------------------------------------------------------- AST
@dataclass(frozen=True)
class Attribute:
    name: str
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Value:
    """A value as written: ``text`` is unescaped (quoted) or space-joined (bare)."""

    text: str
    quoted: bool
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Comparison:
    attr: Attribute
    op: str  # one of = != > >= < <=
    value: Value
    op_pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class InList:
    attr: Attribute
    values: tuple[Value, ...]
    op_pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Contains:
    attr: Attribute
    value: Value
    op_pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class IsNull:
    attr: Attribute
    negated: bool
    op_pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    operand: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Comparison | InList | Contains | IsNull | Not | And | Or


# ---------------------------------------------------------------------------------- tokeniser
def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; the last token is always EOF."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif _is_control(ch):
            raise FilterError(f"unexpected control character {ch!r}", text, i)
        elif ch in "(),":
            kind = {"(": LPAREN, ")": RPAREN, ",": COMMA}[ch]
            tokens.append(Token(kind, ch, i, i + 1))
            i += 1
        elif ch in "'\"":
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise FilterError(
                        "unterminated quoted value",
                        text,
                        i,
                        hint=f"close it with {ch}; write {ch}{ch} for a {ch} inside the value",
                    )
                c = text[j]
                if c == ch:
                    if j + 1 < n and text[j + 1] == ch:
                        buf.append(ch)
                        j += 2
                        continue
                    break
                if _is_control(c):
                    raise FilterError(f"control character {c!r} inside a quoted value", text, j)
                buf.append(c)
                j += 1
            tokens.append(Token(STRING, "".join(buf), i, j + 1))
            i = j + 1
        elif ch in "=!<>":
            two = text[i : i + 2]
            if two in _OPERATORS:
                tokens.append(Token(OP, two, i, i + 2))
                i += 2
            elif ch in _OPERATORS:
                tokens.append(Token(OP, ch, i, i + 1))
                i += 1
            else:
                raise FilterError("unexpected character '!'", text, i, hint="did you mean !=?")
        else:
            j = i
            while j < n:
                c = text[j]
                if c.isspace() or c in _SPECIAL or _is_control(c):
                    break
                j += 1
            tokens.append(Token(WORD, text[i:j], i, j))
            i = j
    tokens.append(Token(EOF, "", n, n))
    return tokens


# ------------------------------------------------------------------------------------- parser
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != EOF:
            self.i += 1
        return t

    def error(self, problem: str, tok: Token | None = None, hint: str | None = None) -> FilterError:
        t = tok or self.tok
        return FilterError(problem, self.text, t.pos, max(1, t.end - t.pos), hint)

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"filter is nested too deeply (more than {MAX_DEPTH} levels)", tok)

    # grammar
    def parse(self) -> Node:
        if self.tok.kind == EOF:
            raise FilterError("empty filter", self.text, 0, hint="write a condition such as x = 1")
        node = self.parse_or()
        t = self.tok
        if t.kind != EOF:
            if t.kind == RPAREN:
                raise self.error("unbalanced parentheses: ')' has no matching '('", t)
            raise self.error(
                f"unexpected {t.describe()} after a complete condition",
                t,
                hint="join conditions with and/or; quote values that contain operators",
            )
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.tok.is_kw("or"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_not()]
        while self.tok.is_kw("and"):
            self.advance()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Node:
        if self.tok.is_kw("not"):
            t = self.advance()
            self.enter(t)
            operand = self.parse_not()
            self.depth -= 1
            return Not(operand, t.pos)
        return self.parse_primary()

    def parse_primary(self) -> Node:
        t = self.tok
        if t.kind == LPAREN:
            self.advance()
            self.enter(t)
            node = self.parse_or()
            self.depth -= 1
            if self.tok.kind != RPAREN:
                raise self.error(
                    f"unbalanced parentheses: expected ')' but found {self.tok.describe()}",
                    hint=f"the '(' at column {self._column(t.pos)} is never closed",
                )
            self.advance()
            return node
        if t.kind == EOF:
            prev = self.tokens[self.i - 1] if self.i else None
            after = f" after {prev.describe()}" if prev else ""
            raise self.error(f"expected a condition{after}, but the filter ends here")
        if t.kind == WORD and t.is_kw("and", "or"):
            raise self.error(f"expected a condition before keyword '{t.text}'", t)
        if t.kind == WORD and IDENT_RE.match(t.text) and not t.is_kw(*KEYWORDS):
            self.advance()
            return self.parse_condition(Attribute(t.text, t.pos, t.end))
        hint = "attribute names are written without quotes" if t.kind == STRING else None
        if t.kind == RPAREN:
            raise self.error("expected a condition, found ')'", t)
        raise self.error(f"expected an attribute name, found {t.describe()}", t, hint)

    def _column(self, pos: int) -> int:
        return pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def parse_condition(self, attr: Attribute) -> Node:
        t = self.tok
        if t.kind == OP:
            self.advance()
            op = _OPERATORS[t.text]
            return Comparison(attr, op, self.parse_value(t), t.pos)
        if t.is_kw("not") and self.peek().is_kw("in", "contains"):
            self.advance()
            return Not(self.parse_condition(attr), t.pos)
        if t.is_kw("in"):
            self.advance()
            if self.tok.kind != LPAREN:
                raise self.error(
                    f"expected '(' after 'in', found {self.tok.describe()}",
                    hint="write in (a, b, c)",
                )
            self.advance()
            values = [self.parse_value(t, in_list=True)]
            while True:
                nt = self.tok
                if nt.kind == COMMA:
                    self.advance()
                    values.append(self.parse_value(t, in_list=True))
                elif nt.kind == RPAREN:
                    self.advance()
                    return InList(attr, tuple(values), t.pos)
                else:
                    raise self.error(
                        f"expected ',' or ')' in the 'in' list, found {nt.describe()}",
                        nt,
                        hint="quote values that contain and/or, commas or parentheses",
                    )
        if t.is_kw("contains"):
            self.advance()
            return Contains(attr, self.parse_value(t), t.pos)
        if t.is_kw("is"):
            self.advance()
            negated = False
            if self.tok.is_kw("not"):
                self.advance()
                negated = True
            if not self.tok.is_kw("null"):
                raise self.error(
                    f"expected 'null' after '{'is not' if negated else 'is'}', "
                    f"found {self.tok.describe()}",
                    hint="write is null or is not null",
                )
            self.advance()
            return IsNull(attr, negated, t.pos)
        found = "the filter ends" if t.kind == EOF else f"found {t.describe()}"
        raise self.error(
            f"expected an operator after attribute '{attr.name}', {found}",
            t,
            hint="one of = != > >= < <= in contains is null",
        )

    def parse_value(self, op: Token, in_list: bool = False) -> Value:
        t = self.tok
        if t.kind == STRING:
            self.advance()
            return Value(t.text, True, t.pos, t.end)
        if t.kind == WORD and not t.is_kw("and", "or"):
            parts = [t.text]
            end = t.end
            self.advance()
            while True:
                nt = self.tok
                if nt.kind == WORD and not nt.is_kw("and", "or"):
                    parts.append(nt.text)
                elif (
                    nt.kind == OP
                    and nt.text == ">"
                    and self.peek().kind == WORD
                    and not self.peek().is_kw("and", "or")
                ):
                    self.advance()
                    nt = self.tok
                    parts.extend((">", nt.text))
                else:
                    break
                end = nt.end
                self.advance()
            return Value(" ".join(parts), False, t.pos, end)
        where = "in the 'in' list" if in_list else f"after '{op.text}'"
        if t.kind == EOF:
            raise self.error(f"expected a value {where}, but the filter ends here", t)
        hint = None
        if t.is_kw("and", "or"):
            hint = f"quote a value that is the word {t.text}"
        elif in_list and t.kind in (COMMA, RPAREN):
            hint = "the list needs at least one value and no empty entries"
        raise self.error(f"expected a value {where}, found {t.describe()}", t, hint)


def parse_filter(text: str) -> Node:
    """Parse a filter into its AST.  Raises :class:`FilterError` on anything else."""
    if not isinstance(text, str):
        raise FilterError(f"a filter must be text, got {type(text).__name__}")
    return _Parser(text).parse()


# ------------------------------------------------------------------------------------ printer
def _quote(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _value(v: Value) -> str:
    return _quote(v.text) if v.quoted else v.text


def format_filter(node: Node) -> str:
    """Render an AST back to filter text (quoted values re-quoted, full parentheses).

    ``parse_filter(format_filter(n)) == n`` for every AST produced by :func:`parse_filter`.
    """
    if isinstance(node, Comparison):
        return f"{node.attr.name} {node.op} {_value(node.value)}"
    if isinstance(node, InList):
        return f"{node.attr.name} in ({', '.join(_value(v) for v in node.values)})"
    if isinstance(node, Contains):
        return f"{node.attr.name} contains {_value(node.value)}"
    if isinstance(node, IsNull):
        return f"{node.attr.name} is {'not ' if node.negated else ''}null"
    if isinstance(node, Not):
        return f"not ({format_filter(node.operand)})"
    if isinstance(node, And):
        return " and ".join(f"({format_filter(o)})" for o in node.operands)
    if isinstance(node, Or):
        return " or ".join(f"({format_filter(o)})" for o in node.operands)
    raise TypeError(f"not a filter node: {node!r}")
