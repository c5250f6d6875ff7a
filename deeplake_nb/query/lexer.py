"""Split TQL text into tokens, each with its offset in the text (for error carets).

Keywords are case-insensitive and come out as ``IDENT`` tokens; the parser decides from context
whether an identifier is a keyword (``ALL`` is a keyword after ``UNION`` and a function name
elsewhere). ``"double quoted"`` text is an identifier (tensor names with ``/``, ``-`` or spaces),
``'single quoted'`` text a string literal (``''`` inside it is one quote). ``--`` starts a
comment that runs to the end of the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import QueryError

# token kinds
IDENT, QIDENT, NUMBER, STRING, OP, EOF = "ident", "quoted name", "number", "string", "operator", "end of query"
VECTOR = "vector"
"""``[n, n, ...]`` right after ``ARRAY``, numbers only: one token whose value is the list of the
numbers (as the NUMBER tokens of the items would give them), so that a query vector of hundreds
of numbers is not lexed and parsed item by item; anything else there is lexed token by token."""

_NUMBER = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_IDENT = re.compile(r"[^\W\d]\w*")
_SPACE = re.compile(r"(?:\s+|--[^\n]*)+")
_OPS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ":", ".")
# one pass per token: white space, then a number, a name or an operator (quotes are handled apart)
_TOKEN = re.compile("(?:" + _SPACE.pattern + ")?(?:(?P<number>" + _NUMBER.pattern + r")|(?P<ident>" + _IDENT.pattern
                    + r")|(?P<op>" + "|".join(re.escape(o) for o in _OPS) + "))?")
INT64_MAX = (1 << 63) - 1
_ITEM = r"[+-]?" + _NUMBER.pattern
_VECTOR = re.compile(r"\s*\[\s*((?:" + _ITEM + r"\s*,\s*)*" + _ITEM + r")\s*\]", re.ASCII)


@dataclass(slots=True)
class Token:
    kind: str
    text: str          # the token as written (for strings and quoted names: the unquoted value)
    start: int
    end: int
    value: object = None

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == IDENT else ""

    def describe(self) -> str:
        if self.kind == EOF:
            return "the end of the query"
        if self.kind == STRING:
            return f"string '{self.text}'"
        if self.kind == QIDENT:
            return f'name "{self.text}"'
        return f"'{self.text}'"


def tokenize(query: str) -> list[Token]:
    """All tokens of ``query`` followed by one EOF token; QueryError on a character that
    starts no token, an unterminated string or a number out of range."""
    tokens: list[Token] = []
    pos, n = 0, len(query)
    while True:
        m = _TOKEN.match(query, pos)
        kind = m.lastgroup
        if kind == "number":
            tokens.append(_number(query, m, kind))
        elif kind == "ident":
            tokens.append(Token(IDENT, m.group(kind), m.start(kind), m.end()))
            if m.end() - m.start(kind) == 5 and m.group(kind).upper() == "ARRAY":
                vector = _vector(query, m.end())
                if vector is not None:
                    tokens.append(vector)
        elif kind == "op":
            tokens.append(Token(OP, m.group(kind), m.start(kind), m.end()))
        else:
            pos = m.end()
            if pos >= n:
                tokens.append(Token(EOF, "", n, n))
                return tokens
            ch = query[pos]
            if ch != "'" and ch != '"':
                raise QueryError(f"Unexpected character {ch!r}", query, pos, pos + 1)
            tokens.append(_quoted(query, pos))
        pos = tokens[-1].end


def _vector(query: str, pos: int) -> Token | None:
    """The VECTOR token at ``pos`` (after ``ARRAY``), or None to lex the text token by token (not
    numbers only; an integer out of range, which that reports)."""
    m = _VECTOR.match(query, pos)
    if m is None:
        return None
    values: list[int | float] = []
    for text in m.group(1).split(","):
        text = text.strip()
        if text.lstrip("+-").isdigit():
            if len(text) > 20:
                return None
            number = int(text)
            if number > INT64_MAX or -number > INT64_MAX:
                return None
            values.append(number)
        else:
            values.append(float(text))
    start = query.index("[", pos)
    return Token(VECTOR, query[start:m.end()], start, m.end(), values)


def expand(query: str, token: Token) -> list[Token]:
    """A VECTOR token as the tokens it stands for (``[``, numbers, signs, commas, ``]``)."""
    tokens = tokenize(query[token.start:token.end])[:-1]
    return [Token(t.kind, t.text, t.start + token.start, t.end + token.start, t.value) for t in tokens]


def _quoted(query: str, start: int) -> Token:
    quote = query[start]
    parts: list[str] = []
    pos = start + 1
    while True:
        close = query.find(quote, pos)
        if close < 0:
            what = "string" if quote == "'" else "quoted name"
            raise QueryError(f"Unterminated {what}; close it with {quote}", query, start, start + 1)
        parts.append(query[pos:close])
        if query.startswith(quote * 2, close):  # a doubled quote stands for one
            parts.append(quote)
            pos = close + 2
            continue
        text = "".join(parts)
        if quote == '"' and not text:
            raise QueryError("Empty quoted name", query, start, close + 1)
        return Token(STRING if quote == "'" else QIDENT, text, start, close + 1)


def _number(query: str, m: re.Match[str], group: int | str = 0) -> Token:
    start, text = m.start(group), m.group(group)
    end = m.end(group)
    if end < len(query) and (query[end].isalpha() or query[end] == "_"):
        raise QueryError(f"Malformed number {query[start:end + 1]!r}", query, start, end + 1)
    if text.isdigit():
        if len(text) > 19 or int(text) > INT64_MAX:
            raise QueryError("Integer literal out of the 64-bit range", query, start, end)
        value: object = int(text)
    else:
        value = float(text)
    return Token(NUMBER, text, start, end, value)
