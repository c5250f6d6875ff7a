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


@dataclass(frozen=True, eq=False)
class Like(Node):
    """``operand [NOT] LIKE|ILIKE pattern``: SQL patterns (``%`` any run, ``_`` one character,
    a backslash makes the next character literal)."""

    operand: Expr = None  # type: ignore[assignment]
    pattern: Expr = None  # type: ignore[assignment]
    ignore_case: bool = False
    negated: bool = False


@dataclass(frozen=True, eq=False)
class IsNull(Node):
    """``operand IS [NOT] NULL``: whether each row's value is empty (see ``values.is_null``)."""

    operand: Expr = None  # type: ignore[assignment]
    negated: bool = False


@dataclass(frozen=True, eq=False)
class Lookup(Node):
    """A computed column of an aggregate result: ``values[i]`` is the value of the row whose
    sample position is ``positions[i]`` (sorted, unique), e.g. the ``COUNT(*)`` of the group
    that sample represents. ``values`` is an ndarray (rows first) or an Arrow string array."""

    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    values: object = None
    classes: tuple[str, ...] | None = None


Expr = Union[Literal, ArrayLiteral, Name, TensorRef, Index, Call, Unary, Binary, Between, InList, Like, IsNull,
             Lookup]


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
    source_span: Span | None = field(default=None, repr=False)
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


def children(expr: Expr) -> tuple[Expr, ...]:
    """The expressions directly below ``expr``, in source order."""
    if isinstance(expr, Index):
        return (expr.target,)
    if isinstance(expr, Call):
        return expr.args
    if isinstance(expr, Unary):
        return (expr.operand,)
    if isinstance(expr, Binary):
        return (expr.left, expr.right)
    if isinstance(expr, Between):
        return (expr.operand, expr.low, expr.high)
    if isinstance(expr, InList):
        return (expr.operand, *expr.items)
    if isinstance(expr, Like):
        return (expr.operand, expr.pattern)
    if isinstance(expr, IsNull):
        return (expr.operand,)
    return ()


def walk(expr: Expr):
    """``expr`` and every expression below it (depth first, in source order; no recursion)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def depth(expr: Expr) -> int:
    """The number of nodes on the longest path from ``expr`` down to a leaf (no recursion)."""
    deepest = 0
    stack = [(expr, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(node))
    return deepest


def canonical(expr: Expr) -> str:
    """A text that is the same for two bound expressions exactly when they compute the same
    thing (spacing, aliases and keyword case do not matter), e.g. to match a SELECT item with a
    GROUP BY expression."""
    if isinstance(expr, TensorRef):
        return f"tensor:{expr.key}"
    if isinstance(expr, Name):
        return f"name:{expr.name}"
    if isinstance(expr, Literal):
        return repr(expr.value)
    if isinstance(expr, ArrayLiteral):
        return f"array{expr.value.tolist()!r}"
    if isinstance(expr, Lookup):
        return f"lookup:{id(expr)}"
    if isinstance(expr, Index):
        items = ",".join(f"{i.start}:{i.stop}:{i.step}" if isinstance(i, Slice) else repr(i) for i in expr.items)
        return f"{canonical(expr.target)}[{items}]"
    parts = ",".join(canonical(child) for child in children(expr))
    if isinstance(expr, Call):
        return f"{expr.name}({parts})"
    if isinstance(expr, (Unary, Binary)):
        return f"{expr.op}({parts})"
    flags = [type(expr).__name__] + [f"{k}={getattr(expr, k)}" for k in ("negated", "ignore_case") if hasattr(expr, k)]
    return f"{'/'.join(flags)}({parts})"
