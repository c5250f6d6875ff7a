"""The syntax tree of a TQL query. Every node remembers where it came from (``span``) so that
errors found while planning or running a query can point at the text that caused them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

from ..errors import QueryError


@dataclass(frozen=True)
class Span:
    """``query[start:end]`` is the text of a node."""

    query: str
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.query[self.start:self.end]

    def error(self, message: str) -> QueryError:
        return QueryError(message, self.query, self.start, self.end)


@dataclass(frozen=True, eq=False)
class Node:
    span: Span = field(repr=False, compare=False)

    def error(self, message: str) -> QueryError:
        return self.span.error(message)

    @property
    def text(self) -> str:
        """The node's source text with runs of white space collapsed."""
        return " ".join(self.span.text.split())


# -- expressions ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Literal(Node):
    value: int | float | str | bool = 0


@dataclass(frozen=True, eq=False)
class ArrayLiteral(Node):
    value: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True, eq=False)
class Name(Node):
    """A column (tensor or view column) referenced by name."""

    name: str = ""


@dataclass(frozen=True, eq=False)
class TensorRef(Node):
    """A name resolved to a stored tensor (``key`` is its full key in the dataset)."""

    key: str = ""
    name: str = ""


@dataclass(frozen=True, eq=False)
class Slice(Node):
    start: int | None = None
    stop: int | None = None
    step: int | None = None

    def as_slice(self) -> slice:
        return slice(self.start, self.stop, self.step)


IndexItem = Union[int, Slice, str]


@dataclass(frozen=True, eq=False)
class Index(Node):
    """``target[items]``: numpy-style indexing of each sample (``str`` items index JSON)."""

    target: Expr = None  # type: ignore[assignment]
    items: tuple[IndexItem, ...] = ()


@dataclass(frozen=True, eq=False)
class Call(Node):
    name: str = ""
    args: tuple[Expr, ...] = ()
    name_span: Span | None = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class Unary(Node):
    op: str = ""            # "not", "-", "+"
    operand: Expr = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Binary(Node):
    op: str = ""            # "and", "or", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"
    left: Expr = None  # type: ignore[assignment]
    right: Expr = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Between(Node):
    operand: Expr = None  # type: ignore[assignment]
    low: Expr = None  # type: ignore[assignment]
    high: Expr = None  # type: ignore[assignment]
    negated: bool = False


@dataclass(frozen=True, eq=False)
class InList(Node):
    operand: Expr = None  # type: ignore[assignment]
    items: tuple[Expr, ...] = ()
    negated: bool = False


Expr = Union[Literal, ArrayLiteral, Name, TensorRef, Index, Call, Unary, Binary, Between, InList]


# -- statements -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SelectItem(Node):
    expr: Expr | None = None   # None for "*"
    alias: str | None = None


@dataclass(frozen=True, eq=False)
class OrderKey(Node):
    expr: Expr = None  # type: ignore[assignment]
    descending: bool = False


@dataclass(frozen=True, eq=False)
class SampleBy(Node):
    mode: str = "max_weight"                     # "max_weight" | "sum_weight"
    terms: tuple[tuple[Expr, Expr], ...] = ()    # (condition, weight)
    replace: bool = True
    limit: int | None = None


@dataclass(frozen=True, eq=False)
class Select(Node):
    items: tuple[SelectItem, ...] = ()
    source: str | None = None
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    ungroup: bool = False
    sample: SampleBy | None = None
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None
    offset: int | None = None


@dataclass(frozen=True, eq=False)
class SetOp(Node):
    """``(left) UNION|INTERSECT|EXCEPT [ALL] (right)``, optionally ordered and limited as a whole."""

    op: str = "union"
    left: Statement = None  # type: ignore[assignment]
    right: Statement = None  # type: ignore[assignment]
    all: bool = False
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None
    offset: int | None = None


Statement = Union[Select, SetOp]


def walk(expr: Expr):
    """``expr`` and every expression below it."""
    yield expr
    if isinstance(expr, Index):
        yield from walk(expr.target)
    elif isinstance(expr, Call):
        for arg in expr.args:
            yield from walk(arg)
    elif isinstance(expr, Unary):
        yield from walk(expr.operand)
    elif isinstance(expr, Binary):
        yield from walk(expr.left)
        yield from walk(expr.right)
    elif isinstance(expr, Between):
        yield from walk(expr.operand)
        yield from walk(expr.low)
        yield from walk(expr.high)
    elif isinstance(expr, InList):
        yield from walk(expr.operand)
        for item in expr.items:
            yield from walk(item)
