"""TQL lexer and parser: grammar coverage, error positions, and a fuzz test (only QueryError)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeplake_nb.errors import QueryError
from deeplake_nb.query import nodes as n
from deeplake_nb.query.lexer import tokenize
from deeplake_nb.query.parser import parse, parse_expression


def where(text: str) -> n.Expr:
    stmt = parse(f"SELECT * WHERE {text}")
    assert isinstance(stmt, n.Select) and stmt.where is not None
    return stmt.where


def test_select_star_and_items_with_alias():
    stmt = parse("SELECT images[0:64, 0:64, :] AS crop, labels, l2_norm(emb) AS norm")
    assert isinstance(stmt, n.Select)
    crop, labels, norm = stmt.items
    assert crop.alias == "crop" and isinstance(crop.expr, n.Index)
    assert [i.as_slice() for i in crop.expr.items] == [slice(0, 64), slice(0, 64), slice(None)]
    assert labels.alias is None and isinstance(labels.expr, n.Name) and labels.expr.name == "labels"
    assert isinstance(norm.expr, n.Call) and norm.expr.name == "l2_norm" and norm.alias == "norm"
    assert parse("select *").items[0].expr is None
    star_and_more = parse("SELECT *, labels * 2 AS double")
    assert star_and_more.items[0].expr is None and star_and_more.items[1].alias == "double"


def test_keywords_are_case_insensitive():
    a = parse("select * from ds where labels == 1 order by x desc limit 5 offset 2")
    b = parse("SeLeCt * FrOm ds WhErE labels == 1 OrDeR bY x DeSc LiMiT 5 OfFsEt 2")
    for stmt in (a, b):
        assert stmt.source == "ds" and stmt.limit == 5 and stmt.offset == 2
        assert stmt.order_by[0].descending


def test_all_clauses():
    stmt = parse("SELECT * FROM \"my/data\" WHERE a > 1 GROUP BY b, c UNGROUP BY "
                 "SAMPLE BY sum_weight(a == 1: 2, a == 2: 0.5) REPLACE FALSE LIMIT 7 "
                 "ORDER BY a ASC, b DESC")
    assert stmt.source == "my/data"
    assert len(stmt.group_by) == 2 and stmt.ungroup
    assert stmt.sample.mode == "sum_weight" and not stmt.sample.replace and stmt.sample.limit == 7
    assert len(stmt.sample.terms) == 2 and stmt.sample.terms[1][1].value == 0.5
    assert [k.descending for k in stmt.order_by] == [False, True]
    assert stmt.limit is None  # the LIMIT right after SAMPLE BY belongs to it


def test_clauses_in_any_order_but_once():
    stmt = parse("SELECT * LIMIT 3 WHERE a > 1 ORDER BY a")
    assert stmt.limit == 3 and stmt.where is not None and stmt.order_by
    with pytest.raises(QueryError, match="WHERE is given twice"):
        parse("SELECT * WHERE a > 1 WHERE a < 2")


def test_operator_precedence():
    e = where("a + b * c == d OR NOT e AND f")
    assert isinstance(e, n.Binary) and e.op == "or"
    left, right = e.left, e.right
    assert left.op == "==" and left.left.op == "+" and left.left.right.op == "*"
    assert right.op == "and" and isinstance(right.left, n.Unary) and right.left.op == "not"
    assert where("-a - -3").right.value == -3
    assert where("(a + b) * c").op == "*"


def test_comparison_spellings():
    for text, op in [("a = 1", "=="), ("a == 1", "=="), ("a != 1", "!="), ("a <> 1", "!="), ("a < 1", "<"),
                     ("a <= 1", "<="), ("a > 1", ">"), ("a >= 1", ">=")]:
        assert where(text).op == op
    with pytest.raises(QueryError, match="do not chain"):
        where("1 < a < 3")


def test_in_between_and_negations():
    e = where("labels IN ('cat', 'dog')")
    assert isinstance(e, n.InList) and [i.value for i in e.items] == ["cat", "dog"] and not e.negated
    assert where("a NOT IN [1, 2]").negated
    assert len(where("a IN ARRAY[1, 2, 3]").items) == 3
    with pytest.raises(QueryError, match="IN needs at least one value") as info:
        where("a IN ()")
    assert info.value.column == 21
    b = where("a NOT BETWEEN 1 AND 2 + 1")
    assert isinstance(b, n.Between) and b.negated and b.high.op == "+"


def test_literals():
    assert where("a == 'it''s'").right.value == "it's"
    assert where("a == TRUE").right.value is True
    assert where("a == 1.5e3").right.value == 1500.0
    assert where("a == .5").right.value == 0.5
    arr = where("a == ARRAY[[1, 2], [3, -4]]").right
    assert isinstance(arr, n.ArrayLiteral) and arr.value.tolist() == [[1, 2], [3, -4]]
    assert where("a == ARRAY[]").right.value.shape == (0,)
    with pytest.raises(QueryError, match="same length"):
        where("a == ARRAY[[1, 2], [3]]")


def test_indexing_and_json_keys():
    e = where("boxes[:, 2] > 50").left
    assert isinstance(e, n.Index) and isinstance(e.items[0], n.Slice) and e.items[1] == 2
    assert where("x[-1] > 0").left.items == (-1,)
    assert where("x[::2] > 0").left.items[0].as_slice() == slice(None, None, 2)
    assert where("meta['key'][0] == 1").left.target.items == ("key",)
    with pytest.raises(QueryError, match="whole number"):
        where("x[1.5] > 0")
    with pytest.raises(QueryError, match="step cannot be zero"):
        where("x[::0] > 0")


def test_quoted_names_and_comments():
    e = where('"group/tensor-1" > 1 -- a comment\n AND "order" < 2')
    assert e.left.left.name == "group/tensor-1" and e.right.left.name == "order"
    with pytest.raises(QueryError, match="keyword"):
        where("order > 1")


def test_function_calls():
    e = where("cosine_similarity(emb, ARRAY[0.1, 0.2]) > 0.5").left
    assert isinstance(e, n.Call) and e.name == "cosine_similarity" and len(e.args) == 2
    assert where("RANDOM() < 0.5").left.name == "random"  # function names are case-insensitive
    assert where("all(x > 0)").name == "all"


def test_set_operations_and_trailing_clauses():
    stmt = parse("(SELECT * WHERE a > 1) UNION (SELECT * WHERE b < 2) INTERSECT (SELECT *) "
                 "ORDER BY a LIMIT 3 OFFSET 1")
    assert isinstance(stmt, n.SetOp) and stmt.op == "union"
    assert isinstance(stmt.right, n.SetOp) and stmt.right.op == "intersect"  # INTERSECT binds tighter
    assert stmt.limit == 3 and stmt.offset == 1 and stmt.order_by
    assert parse("(SELECT *) EXCEPT ALL (SELECT *)").all
    nested = parse("((SELECT *) UNION (SELECT *)) EXCEPT (SELECT * LIMIT 1)")
    assert nested.op == "except" and nested.left.op == "union"
    plain = parse("SELECT * WHERE a > 1 UNION SELECT * WHERE b < 2 ORDER BY a LIMIT 3")
    assert isinstance(plain, n.SetOp) and plain.limit == 3 and plain.order_by  # the whole result's
    assert plain.right.limit is None and not plain.right.order_by
    with pytest.raises(QueryError, match="parentheses"):
        parse("SELECT * LIMIT 2 UNION SELECT *")


def test_parse_expression():
    e = parse_expression("labels == 'cat' and x > 1")
    assert isinstance(e, n.Binary) and e.op == "and"
    with pytest.raises(QueryError, match="end of the query"):
        parse_expression("labels == 1 LIMIT 3")


@pytest.mark.parametrize("query, line, column, message", [
    ("SELECT * WHERE labels ==", 1, 25, "Expected an expression"),
    ("SELECT * WHRE labels == 1", 1, 10, "Unexpected 'WHRE'"),
    ("SELECT *\nWHERE labels == 'cat\n", 2, 17, "Unterminated string"),
    ("SELECT *\n  WHERE (a > 1\n  LIMIT 3", 3, 3, "Expected ')'"),
    ("SELECT * WHERE a # 2", 1, 18, "Unexpected character '#'"),
    ("", 1, 1, "Empty query"),
    ("SELECT * LIMIT 2.5", 1, 16, "whole number"),
    ("SELECT * WHERE 12abc > 1", 1, 16, "Malformed number"),
    ("SELECT * WHERE a > 99999999999999999999", 1, 20, "64-bit"),
    ("DELETE FROM x", 1, 1, "Expected SELECT"),
    ("SELECT * SAMPLE BY best(a: 1)", 1, 20, "max_weight"),
    ("SELECT * SAMPLE BY max_weight(a 1)", 1, 33, "Expected ':'"),
])
def test_errors_point_at_the_spot(query, line, column, message):
    with pytest.raises(QueryError) as info:
        parse(query)
    err = info.value
    assert message in str(err)
    assert (err.line, err.column) == (line, column)
    text = str(err).splitlines()
    caret = text[-1]
    assert caret.strip().startswith("^")
    # the caret sits under the reported column of the quoted line
    assert caret.index("^") - 4 == column - 1
    assert text[-2][4:] == query.splitlines()[line - 1] if query else True


def test_error_caret_width_covers_the_token():
    with pytest.raises(QueryError) as info:
        parse("SELECT * WHERE a > 1 LIMIT abc")
    assert str(info.value).splitlines()[-1].strip() == "^^^"


def test_deep_nesting_is_a_query_error():
    with pytest.raises(QueryError, match="nests too deeply"):
        parse("SELECT * WHERE " + "(" * 500 + "a" + ")" * 500)
    with pytest.raises(QueryError, match="nests too deeply"):
        parse("SELECT * WHERE " + "NOT " * 500 + "a")
    with pytest.raises(QueryError, match="nests too deeply"):
        parse("SELECT * WHERE a == " + "- " * 500 + "1")


def test_not_a_string():
    with pytest.raises(QueryError):
        parse(42)  # type: ignore[arg-type]


def test_tokens_carry_offsets():
    tokens = tokenize("SELECT  x")
    assert [(t.text, t.start, t.end) for t in tokens[:2]] == [("SELECT", 0, 6), ("x", 8, 9)]


_ALPHABET = st.sampled_from(list("SELECTWHEROPDBYLIMTAN*()[],:.'\"=<>!+-/%0123456789 _\n\tabcxyz") +
                            ["SELECT ", " WHERE ", " ORDER BY ", " LIMIT ", " UNION ", " AND ", " IN ",
                             " BETWEEN ", " ARRAY[", " SAMPLE BY max_weight(", "é", "\u00b2", "٣", "\x00"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), st.lists(_ALPHABET, max_size=30).map("".join)))
def test_fuzz_parser_only_raises_query_error(text):
    try:
        parse(text)
    except QueryError as err:
        assert err.message
    try:
        parse_expression(text)
    except QueryError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["(", ")", "[", "]", "NOT ", "-", "a", "1", ",", ":", "ARRAY"]), max_size=300))
def test_fuzz_deep_brackets(parts):
    try:
        parse("SELECT * WHERE " + "".join(parts))
    except QueryError:
        pass


def test_array_literal_dtype():
    assert where("a == ARRAY[1, 2]").right.value.dtype.kind == "i"
    assert where("a == ARRAY[1, 2.5]").right.value.dtype == np.float64


_ITEM_TEXT = st.one_of(
    st.integers(-(1 << 63) + 1, (1 << 63) - 1).map(str),
    st.integers(0, 10 ** 25).map(lambda v: str(v)),  # past the 64-bit range: the error as before
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v:.8g}"),
    st.sampled_from([".5", "1.", "-.5", "+3e2", "1E-3", "-0", "-0.0", "+0"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(_ITEM_TEXT, min_size=1, max_size=12), space=st.sampled_from(["", " ", "  \n"]))
def test_numeric_array_literal_read_at_once_equals_token_by_token(items, space):
    """ARRAY[n, n, ...] of numbers is one lexer token (query vectors of hundreds of numbers parse in
    one step); its value, dtype and errors are those of reading it number by number."""
    import re

    from deeplake_nb.query import lexer

    text = f"SELECT * ORDER BY l2_norm(emb - ARRAY{space}[{space}" + f"{space},{space}".join(items) + f"{space}]) LIMIT 3"

    def outcome() -> tuple:
        try:
            array = parse(text).order_by[0].expr.args[0].right.value
        except QueryError as exc:
            return ("error", str(exc))
        return (array.dtype.str, array.tobytes())

    fast = outcome()
    saved = lexer._VECTOR
    lexer._VECTOR = re.compile(r"(?!)")  # never matches: every number is its own token
    try:
        slow = outcome()
    finally:
        lexer._VECTOR = saved
    assert fast == slow
    if fast[0] != "error":
        assert any(t.kind == lexer.VECTOR for t in tokenize(text))


def test_vector_token_only_after_array():
    kinds = [t.kind for t in tokenize("SELECT emb[1, 2], ARRAY[1, 2.5][0] WHERE x IN [1, 2]")]
    assert kinds.count("vector") == 1
    assert parse_expression("ARRAY[1, -2, 3.5]").value.tolist() == [1, -2, 3.5]
    with pytest.raises(QueryError, match="ARRAY elements are numbers"):
        parse_expression("ARRAY[1, 'a']")
    with pytest.raises(QueryError, match="Malformed number"):
        parse_expression("ARRAY[1, 2x]")
