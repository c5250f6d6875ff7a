"""Recursive-descent parser: TQL text -> ``nodes.Statement``.

Grammar (keywords are case-insensitive; ``[x]`` optional, ``{x}`` repeated)::

    query      := compound [ORDER BY keys] [LIMIT int] [OFFSET int]
    compound   := operand {(UNION | EXCEPT) [ALL] operand}       INTERSECT binds tighter
    operand    := "(" query ")" | select
    select     := SELECT items {clause}
    items      := "*" | item {"," item}          item := "*" | expr [AS name]
    clause     := FROM name | WHERE expr | GROUP BY exprs | UNGROUP BY [exprs]
                | SAMPLE BY (max_weight | sum_weight) "(" expr ":" expr {"," expr ":" expr} ")"
                      [REPLACE (TRUE | FALSE)] [LIMIT int]
                | ORDER BY keys | LIMIT int [OFFSET int] | OFFSET int
    keys       := expr [ASC | DESC] {"," expr [ASC | DESC]}
    expr       := or;  or := and {OR and};  and := not {AND not};  not := NOT not | compare
    compare    := sum [("==" | "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") sum
                       | [NOT] IN ("(" exprs ")" | "[" exprs "]" | ARRAY "[" ... "]")
                       | [NOT] BETWEEN sum AND sum | [NOT] (LIKE | ILIKE) sum | IS [NOT] NULL]
    sum        := product {("+" | "-") product};  product := unary {("*" | "/" | "%") unary}
    unary      := ("-" | "+") unary | postfix;    postfix := primary {"[" index {"," index} "]"}
    index      := int | [int] ":" [int] [":" [int]] | string
    primary    := number | string | TRUE | FALSE | ARRAY "[" numbers "]" | "(" expr ")"
                | COUNT "(" "*" ")" | name "(" [exprs] ")" | name | "quoted name"

Clauses may come in any order, each at most once; they always run in the order
WHERE, GROUP BY, SAMPLE BY, ORDER BY, OFFSET/LIMIT, UNGROUP BY. In a set operation written
without parentheses (``SELECT ... UNION SELECT ... LIMIT 5``) ORDER BY, LIMIT and OFFSET after
the last query apply to the whole result, as in SQL; the other queries cannot have them.

Chains of AND / OR become balanced trees (``a OR b OR c OR d`` is ``(a OR b) OR (c OR d)``), so a
chain of thousands of terms stays shallow; any expression deeper than ``MAX_TREE_DEPTH`` (long
chains of ``+ - * / %``) is a QueryError, like bracket nesting deeper than ``_MAX_DEPTH``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ..errors import QueryError
from . import nodes as n
from .lexer import EOF, IDENT, NUMBER, OP, QIDENT, STRING, VECTOR, Token, expand, tokenize

RESERVED = frozenset({
    "SELECT", "FROM", "WHERE", "GROUP", "UNGROUP", "SAMPLE", "ORDER", "BY", "LIMIT", "OFFSET", "AS",
    "AND", "OR", "NOT", "IN", "BETWEEN", "UNION", "INTERSECT", "EXCEPT", "ASC", "DESC", "TRUE",
    "FALSE", "ARRAY",
})
_CLAUSES = ("FROM", "WHERE", "GROUP", "UNGROUP", "SAMPLE", "ORDER", "LIMIT", "OFFSET")
_COMPARE = {"==": "==", "=": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SET_OPS = ("UNION", "INTERSECT", "EXCEPT")
_TRAILING = ("ORDER", "LIMIT", "OFFSET")
_MAX_DEPTH = 48        # nested brackets, NOTs, signs and queries
MAX_TREE_DEPTH = 256   # levels of one expression's syntax tree (evaluation recurses once per level)


def parse(query: str) -> n.Statement:
    """Parse a whole query; raises QueryError (with line, column and caret) if it is malformed."""
    if not isinstance(query, str):
        raise QueryError(f"A query is a str; got {type(query).__name__}.")
    try:
        return _Parser(query).statement()
    except RecursionError:
        raise QueryError("The query nests too deeply", query, 0, len(query)) from None


def parse_expression(text: str) -> n.Expr:
    """Parse one expression (what follows WHERE), e.g. for ``ds.filter("labels == 'cat'")``."""
    if not isinstance(text, str):
        raise QueryError(f"A filter expression is a str; got {type(text).__name__}.")
    try:
        parser = _Parser(text)
        expr = parser.expr()
        parser.expect_end()
        return expr
    except RecursionError:
        raise QueryError("The expression nests too deeply", text, 0, len(text)) from None


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.depth = 0
        self.expr_level = 0                      # expr() calls under way
        self.last_plain: n.Select | None = None  # the last query operand, when written without brackets

    # -- token helpers ----------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    def at_kw(self, *words: str) -> bool:
        return self.tok.kind == IDENT and self.tok.upper in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == OP and self.tok.text in ops

    def accept_kw(self, word: str) -> Token | None:
        return self.advance() if self.at_kw(word) else None

    def accept_op(self, op: str) -> Token | None:
        return self.advance() if self.at_op(op) else None

    def fail(self, message: str, tok: Token | None = None) -> QueryError:
        tok = tok or self.tok
        return QueryError(message, self.query, tok.start, max(tok.end, tok.start + 1))

    def expect_kw(self, word: str, context: str = "") -> Token:
        if not self.at_kw(word):
            raise self.fail(f"Expected {word}{context}, found {self.tok.describe()}")
        return self.advance()

    def expect_op(self, op: str, context: str = "") -> Token:
        if not self.at_op(op):
            raise self.fail(f"Expected '{op}'{context}, found {self.tok.describe()}")
        return self.advance()

    def expect_end(self) -> None:
        if self.tok.kind != EOF:
            raise self.fail(f"Unexpected {self.tok.describe()}; expected the end of the query")

    def span(self, start: int) -> n.Span:
        end = self.tokens[self.i - 1].end if self.i > 0 else start
        return n.Span(self.query, start, max(end, start))

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail("The query nests too deeply")

    # -- statements -------------------------------------------------------------------------------
    def statement(self) -> n.Statement:
        if self.tok.kind == EOF:
            raise self.fail("Empty query; a query starts with SELECT, e.g. SELECT * WHERE labels == 0")
        stmt = self.compound()
        self.expect_end()
        return stmt

    def compound(self) -> n.Statement:
        start = self.tok.start
        left = self.union_operand()
        while self.at_kw("UNION", "EXCEPT"):
            op = self.advance().upper.lower()
            every = bool(self.accept_kw("ALL"))
            right = self.union_operand()
            left = n.SetOp(self.span(start), op=op, left=left, right=right, all=every)
        if not isinstance(left, n.SetOp):
            return left
        left = self.lift_trailing(left)
        if self.at_kw(*_TRAILING):
            order_by, limit, offset = self.trailing()
            left = dataclasses.replace(left, span=self.span(start), order_by=order_by, limit=limit, offset=offset)
        return left

    def lift_trailing(self, op: n.SetOp) -> n.SetOp:
        """``op`` with the ORDER BY / LIMIT / OFFSET of its last query, when that query was written
        without brackets, moved to ``op`` itself (they apply to the whole result)."""
        leaf: n.Statement = op
        while isinstance(leaf, n.SetOp):
            leaf = leaf.right
        if leaf is not self.last_plain or not (leaf.order_by or leaf.limit is not None or leaf.offset is not None):
            return op
        bare = dataclasses.replace(leaf, order_by=(), limit=None, offset=None)

        def strip(node: n.Statement) -> n.Statement:
            if isinstance(node, n.SetOp):
                return dataclasses.replace(node, right=strip(node.right))
            return bare
        return dataclasses.replace(op, right=strip(op.right), order_by=leaf.order_by, limit=leaf.limit,
                                   offset=leaf.offset)

    def union_operand(self) -> n.Statement:
        start = self.tok.start
        left = self.operand()
        while self.at_kw("INTERSECT"):
            self.advance()
            every = bool(self.accept_kw("ALL"))
            right = self.operand()
            left = n.SetOp(self.span(start), op="intersect", left=left, right=right, all=every)
        return left

    def operand(self) -> n.Statement:
        if self.at_kw("SELECT"):
            self.last_plain = self.select()
            return self.last_plain
        if not self.at_op("("):
            raise self.fail(f"Expected SELECT, found {self.tok.describe()}")
        self.advance()
        self.enter()
        stmt = self.compound()
        self.depth -= 1
        self.expect_op(")", " to close the query")
        self.last_plain = None
        return stmt

    def trailing(self) -> tuple[tuple[n.OrderKey, ...], int | None, int | None]:
        order_by: tuple[n.OrderKey, ...] = ()
        limit = offset = None
        seen: set[str] = set()
        while self.at_kw("ORDER", "LIMIT", "OFFSET"):
            word = self.tok
            if word.upper in seen:
                raise self.fail(f"{word.upper} is given twice", word)
            seen.add(word.upper)
            self.advance()
            if word.upper == "ORDER":
                self.expect_kw("BY", " after ORDER")
                order_by = self.order_keys()
            elif word.upper == "LIMIT":
                limit = self.count("LIMIT")
                if self.accept_kw("OFFSET"):
                    seen.add("OFFSET")
                    offset = self.count("OFFSET")
            else:
                offset = self.count("OFFSET")
        return order_by, limit, offset

    def select(self) -> n.Select:
        start = self.expect_kw("SELECT").start
        items = self.select_items()
        parts: dict[str, object] = {}
        words: dict[str, Token] = {}
        while self.at_kw(*_CLAUSES):
            word = self.tok
            key = word.upper
            if key in parts:
                raise self.fail(f"{key} is given twice", word)
            words[key] = word
            self.advance()
            if key == "FROM":
                parts[key], parts["FROM span"] = self.source()
            elif key == "WHERE":
                parts[key] = self.expr()
            elif key == "GROUP":
                self.expect_kw("BY", " after GROUP")
                parts[key] = self.expr_list()
            elif key == "UNGROUP":
                self.expect_kw("BY", " after UNGROUP")
                if not (self.at_kw(*_CLAUSES, "UNION", "INTERSECT", "EXCEPT") or self.tok.kind == EOF
                        or self.at_op(")")):
                    self.expr_list()
                parts[key] = True
            elif key == "SAMPLE":
                self.expect_kw("BY", " after SAMPLE")
                parts[key] = self.sample_by(word.start)
            elif key == "ORDER":
                self.expect_kw("BY", " after ORDER")
                parts[key] = self.order_keys()
            elif key == "LIMIT":
                parts[key] = self.count("LIMIT")
                if self.at_kw("OFFSET"):
                    if "OFFSET" in parts:
                        raise self.fail("OFFSET is given twice")
                    self.advance()
                    parts["OFFSET"] = self.count("OFFSET")
            else:
                parts[key] = self.count("OFFSET")
        if self.tok.kind not in (EOF,) and not self.at_op(")") and not self.at_kw(*_SET_OPS):
            hint = ""
            if self.tok.kind == IDENT and self.tok.upper not in RESERVED:
                hint = "; clauses are FROM, WHERE, GROUP BY, UNGROUP BY, SAMPLE BY, ORDER BY, LIMIT, OFFSET"
            raise self.fail(f"Unexpected {self.tok.describe()}{hint}")
        if self.at_kw(*_SET_OPS):
            early = sorted((words[k] for k in _TRAILING if k in words), key=lambda t: t.start)
            if early:
                raise self.fail(f"{early[0].upper} before {self.tok.upper} would apply to the whole result; "
                                f"put this query in parentheses: (SELECT ... {early[0].upper} ...) "
                                f"{self.tok.upper} SELECT ...", early[0])
        sample = parts.get("SAMPLE")
        return n.Select(self.span(start), items=items, source=parts.get("FROM"),  # type: ignore[arg-type]
                        source_span=parts.get("FROM span"),  # type: ignore[arg-type]
                        where=parts.get("WHERE"), group_by=parts.get("GROUP", ()),  # type: ignore[arg-type]
                        ungroup=bool(parts.get("UNGROUP")), sample=sample,  # type: ignore[arg-type]
                        order_by=parts.get("ORDER", ()), limit=parts.get("LIMIT"),  # type: ignore[arg-type]
                        offset=parts.get("OFFSET"))  # type: ignore[arg-type]

    def select_items(self) -> tuple[n.SelectItem, ...]:
        items = [self.select_item()]
        while self.accept_op(","):
            items.append(self.select_item())
        return tuple(items)

    def select_item(self) -> n.SelectItem:
        start = self.tok.start
        if self.at_op("*"):
            self.advance()
            return n.SelectItem(self.span(start), expr=None)
        if self.tok.kind == EOF or self.at_kw(*_CLAUSES):
            raise self.fail(f"Expected '*' or an expression after SELECT, found {self.tok.describe()}")
        expr = self.expr()
        alias = None
        if self.accept_kw("AS"):
            alias = self.name("an alias after AS")
        return n.SelectItem(self.span(start), expr=expr, alias=alias)

    def source(self) -> tuple[str, n.Span]:
        tok = self.tok
        if tok.kind in (QIDENT, STRING) or (tok.kind == IDENT and tok.upper not in RESERVED):
            self.advance()
            return tok.text, n.Span(self.query, tok.start, tok.end)
        raise self.fail(f"Expected a dataset name after FROM, found {tok.describe()}")

    def name(self, what: str) -> str:
        tok = self.tok
        if tok.kind == QIDENT or (tok.kind == IDENT and tok.upper not in RESERVED):
            self.advance()
            return tok.text
        if tok.kind == IDENT:
            raise self.fail(f'{tok.upper} is a keyword; write "{tok.text}" in double quotes to use it as {what}')
        raise self.fail(f"Expected {what}, found {tok.describe()}")

    def count(self, clause: str) -> int:
        tok = self.tok
        if tok.kind == NUMBER and isinstance(tok.value, int):
            self.advance()
            return tok.value
        raise self.fail(f"{clause} takes a whole number >= 0, found {tok.describe()}")

    def order_keys(self) -> tuple[n.OrderKey, ...]:
        keys = []
        while True:
            start = self.tok.start
            expr = self.expr()
            descending = False
            if self.at_kw("ASC", "DESC"):
                descending = self.advance().upper == "DESC"
            keys.append(n.OrderKey(self.span(start), expr=expr, descending=descending))
            if not self.accept_op(","):
                return tuple(keys)

    def expr_list(self) -> tuple[n.Expr, ...]:
        exprs = [self.expr()]
        while self.accept_op(","):
            exprs.append(self.expr())
        return tuple(exprs)

    def sample_by(self, start: int) -> n.SampleBy:
        tok = self.tok
        if tok.kind != IDENT or tok.text.lower() not in ("max_weight", "sum_weight"):
            raise self.fail(f"SAMPLE BY takes max_weight(...) or sum_weight(...), found {tok.describe()}")
        mode = self.advance().text.lower()
        self.expect_op("(", f" after {mode}")
        terms = []
        while True:
            cond = self.expr()
            self.expect_op(":", " between a condition and its weight")
            weight = self.expr()
            terms.append((cond, weight))
            if self.accept_op(")"):
                break
            self.expect_op(",", f" or ')' in {mode}(...)")
        replace = True
        limit = None
        if self.tok.kind == IDENT and self.tok.upper == "REPLACE":
            self.advance()
            if not self.at_kw("TRUE", "FALSE"):
                raise self.fail(f"REPLACE takes TRUE or FALSE, found {self.tok.describe()}")
            replace = self.advance().upper == "TRUE"
        if self.at_kw("LIMIT"):
            self.advance()
            limit = self.count("LIMIT")
        return n.SampleBy(self.span(start), mode=mode, terms=tuple(terms), replace=replace, limit=limit)

    # -- expressions ------------------------------------------------------------------------------
    def expr(self) -> n.Expr:
        self.enter()
        self.expr_level += 1
        first = self.i
        try:
            expr = self.or_expr()
        finally:
            self.depth -= 1
            self.expr_level -= 1
        if self.expr_level == 0 and self.i - first > MAX_TREE_DEPTH:  # each node has a token of its own
            levels = n.depth(expr)
            if levels > MAX_TREE_DEPTH:
                raise expr.error(f"The query nests too deeply: this expression is {levels} levels deep, at "
                                 f"most {MAX_TREE_DEPTH}; group long chains of + - * / % with parentheses, "
                                 "e.g. (a + b) + (c + d)")
        return expr

    def or_expr(self) -> n.Expr:
        return self.chain("OR", self.and_expr)

    def and_expr(self) -> n.Expr:
        return self.chain("AND", self.not_expr)

    def chain(self, word: str, term: Callable[[], n.Expr]) -> n.Expr:
        """``term {word term}`` as a balanced tree of ``Binary`` nodes (AND and OR are associative)."""
        terms: list[tuple[n.Expr, int, int]] = []
        while True:
            start = self.tok.start
            expr = term()
            terms.append((expr, start, self.tokens[self.i - 1].end))
            if not self.accept_kw(word):
                break
        return self.balanced(word.lower(), terms)

    def balanced(self, op: str, terms: list[tuple[n.Expr, int, int]]) -> n.Expr:
        if len(terms) == 1:
            return terms[0][0]
        mid = len(terms) // 2
        span = n.Span(self.query, terms[0][1], terms[-1][2])
        return n.Binary(span, op=op, left=self.balanced(op, terms[:mid]), right=self.balanced(op, terms[mid:]))

    def not_expr(self) -> n.Expr:
        start = self.tok.start
        if self.accept_kw("NOT"):
            self.enter()
            operand = self.not_expr()
            self.depth -= 1
            return n.Unary(self.span(start), op="not", operand=operand)
        return self.comparison()

    def comparison(self) -> n.Expr:
        start = self.tok.start
        left = self.additive()
        if self.tok.kind == OP and self.tok.text in _COMPARE:
            op = _COMPARE[self.advance().text]
            right = self.additive()
            node: n.Expr = n.Binary(self.span(start), op=op, left=left, right=right)
            if self.tok.kind == OP and self.tok.text in _COMPARE:
                raise self.fail("Comparisons do not chain; combine them with AND")
            return node
        negated = False
        if self.at_kw("NOT") and self.peek().kind == IDENT and self.peek().upper in ("IN", "BETWEEN", "LIKE", "ILIKE"):
            self.advance()
            negated = True
        if self.at_kw("LIKE", "ILIKE"):
            word = self.advance().upper
            pattern = self.additive()
            return n.Like(self.span(start), operand=left, pattern=pattern, ignore_case=word == "ILIKE",
                          negated=negated)
        if not negated and self.accept_kw("IS"):
            negated = bool(self.accept_kw("NOT"))
            self.expect_kw("NULL", " after IS NOT" if negated else " after IS")
            return n.IsNull(self.span(start), operand=left, negated=negated)
        if self.accept_kw("IN"):
            items = self.in_items()
            return n.InList(self.span(start), operand=left, items=items, negated=negated)
        if self.accept_kw("BETWEEN"):
            low = self.additive()
            self.expect_kw("AND", " in BETWEEN ... AND ...")
            high = self.additive()
            return n.Between(self.span(start), operand=left, low=low, high=high, negated=negated)
        return left

    def in_items(self) -> tuple[n.Expr, ...]:
        opening = self.tok
        if self.at_kw("ARRAY"):
            self.advance()
            close = "]"
            if self.tok.kind == VECTOR:  # IN ARRAY[...]: items are expressions, each with its own span
                self.tokens[self.i:self.i + 1] = expand(self.query, self.tok)
            self.expect_op("[", " after ARRAY")
        elif self.at_op("(", "["):
            close = ")" if self.advance().text == "(" else "]"
        else:
            raise self.fail(f"IN takes a list in parentheses, e.g. IN ('cat', 'dog'); found {self.tok.describe()}")
        items: list[n.Expr] = []
        if self.at_op(close):
            end = self.advance().end
            raise QueryError("IN needs at least one value, e.g. IN ('cat', 'dog'); an empty list matches nothing",
                             self.query, opening.start, end)
        while True:
            items.append(self.expr())
            if self.accept_op(close):
                return tuple(items)
            self.expect_op(",", f" or '{close}' in the IN list")

    def additive(self) -> n.Expr:
        start = self.tok.start
        left = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().text
            right = self.multiplicative()
            left = n.Binary(self.span(start), op=op, left=left, right=right)
        return left

    def multiplicative(self) -> n.Expr:
        start = self.tok.start
        left = self.unary()
        while self.at_op("*", "/", "%"):
            op = self.advance().text
            right = self.unary()
            left = n.Binary(self.span(start), op=op, left=left, right=right)
        return left

    def unary(self) -> n.Expr:
        start = self.tok.start
        if self.at_op("-", "+"):
            op = self.advance().text
            self.enter()
            operand = self.unary()
            self.depth -= 1
            if isinstance(operand, n.Literal) and isinstance(operand.value, (int, float)) \
                    and not isinstance(operand.value, bool):
                return n.Literal(self.span(start), value=-operand.value if op == "-" else operand.value)
            return n.Unary(self.span(start), op=op, operand=operand)
        return self.postfix()

    def postfix(self) -> n.Expr:
        start = self.tok.start
        expr = self.primary()
        while self.at_op("["):
            self.advance()
            items = [self.index_item()]
            while self.accept_op(","):
                items.append(self.index_item())
            self.expect_op("]", " to close the index")
            expr = n.Index(self.span(start), target=expr, items=tuple(items))
        return expr

    def index_item(self) -> n.IndexItem:
        start = self.tok.start
        if self.tok.kind == STRING:
            return self.advance().text
        first = None if self.at_op(":") else self.index_int()
        if not self.accept_op(":"):
            assert first is not None
            return first
        stop = None if self.at_op(":", ",", "]") else self.index_int()
        step = None
        if self.accept_op(":"):
            step = None if self.at_op(",", "]") else self.index_int()
            if step == 0:
                raise self.fail("A slice step cannot be zero", self.tokens[self.i - 1])
        return n.Slice(self.span(start), start=first, stop=stop, step=step)

    def index_int(self) -> int:
        sign = 1
        if self.at_op("-", "+"):
            sign = -1 if self.advance().text == "-" else 1
        tok = self.tok
        if tok.kind == NUMBER and isinstance(tok.value, int):
            self.advance()
            return sign * tok.value
        raise self.fail(f"An index is a whole number, a slice like 0:10, or a 'key'; found {tok.describe()}")

    def primary(self) -> n.Expr:
        tok = self.tok
        start = tok.start
        if tok.kind == NUMBER:
            self.advance()
            return n.Literal(self.span(start), value=tok.value)  # type: ignore[arg-type]
        if tok.kind == STRING:
            self.advance()
            return n.Literal(self.span(start), value=tok.text)
        if tok.kind == QIDENT:
            self.advance()
            return n.Name(self.span(start), name=tok.text)
        if tok.kind == OP and tok.text == "(":
            self.advance()
            if self.at_kw("SELECT"):
                raise self.fail("Subqueries are not supported inside expressions")
            inner = self.expr()
            self.expect_op(")", " to close the parenthesis")
            return inner
        if tok.kind == IDENT:
            word = tok.upper
            if word in ("TRUE", "FALSE"):
                self.advance()
                return n.Literal(self.span(start), value=word == "TRUE")
            if word == "ARRAY":
                self.advance()
                return self.array_literal(start)
            if self.peek().kind == OP and self.peek().text == "(" and word not in RESERVED:
                self.advance()
                return self.call(tok)
            if word in RESERVED:
                nxt = self.peek()
                clause = (word in ("SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "UNION", "INTERSECT", "EXCEPT")
                          or (word in ("ORDER", "GROUP", "UNGROUP", "SAMPLE") and nxt.upper == "BY")
                          or (word in ("LIMIT", "OFFSET") and nxt.kind == NUMBER))
                hint = "" if clause else f'; write "{tok.text}" in double quotes for a tensor of that name'
                raise self.fail(f"Expected an expression, found the keyword {word}{hint}")
            self.advance()
            return n.Name(self.span(start), name=tok.text)
        if tok.kind == OP and tok.text == "[":
            raise self.fail("Write array literals as ARRAY[1, 2, 3]")
        raise self.fail(f"Expected an expression, found {tok.describe()}")

    def call(self, name_tok: Token) -> n.Call:
        start = name_tok.start
        self.expect_op("(")
        args: list[n.Expr] = []
        if name_tok.upper == "COUNT" and self.at_op("*", ")"):  # COUNT(*): every row
            if not self.accept_op("*"):
                raise self.fail("COUNT takes * or one expression, e.g. COUNT(*) or COUNT(labels)")
            self.expect_op(")", " after COUNT(*")
        elif not self.accept_op(")"):
            while True:
                args.append(self.expr())
                if self.accept_op(")"):
                    break
                self.expect_op(",", f" or ')' in the arguments of {name_tok.text}(...)")
        return n.Call(self.span(start), name=name_tok.text.lower(), args=tuple(args),
                      name_span=n.Span(self.query, name_tok.start, name_tok.end))

    def array_literal(self, start: int) -> n.ArrayLiteral:
        value = self.array_items()
        try:
            arr = np.array(value)
        except ValueError:
            arr = None
        if arr is None or arr.dtype == object:
            raise QueryError("ARRAY rows must all have the same length", self.query, start,
                             self.tokens[self.i - 1].end)
        if arr.size == 0:
            arr = arr.astype(np.float64)
        return n.ArrayLiteral(self.span(start), value=arr)

    def array_items(self) -> list:
        if self.tok.kind == VECTOR:  # numbers only, read by the lexer at once
            return list(self.advance().value)  # type: ignore[call-overload]
        self.enter()
        self.expect_op("[", " to open the ARRAY")
        items: list = []
        if not self.accept_op("]"):
            while True:
                if self.at_op("[") or self.at_kw("ARRAY"):
                    self.accept_kw("ARRAY")
                    items.append(self.array_items())
                else:
                    items.append(self.array_number())
                if self.accept_op("]"):
                    break
                self.expect_op(",", " or ']' in the ARRAY")
        self.depth -= 1
        return items

    def array_number(self) -> int | float | bool:
        sign = 1
        if self.at_op("-", "+"):
            sign = -1 if self.advance().text == "-" else 1
        tok = self.tok
        if tok.kind == NUMBER:
            self.advance()
            return sign * tok.value  # type: ignore[operator]
        if self.at_kw("TRUE", "FALSE") and sign == 1:
            return self.advance().upper == "TRUE"
        raise self.fail(f"ARRAY elements are numbers, found {tok.describe()}")
