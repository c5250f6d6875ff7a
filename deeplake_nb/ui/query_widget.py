"""``QueryWidget``: ``dl.ui.QueryWidget(ds)``, a TQL editor over a dataset (or a View) with the
result below it: count, run time, a bar chart of class labels, and the sample grid of
``widgets/grid.js`` (the dataset browser's grid, fed from the result rows).

State (traits, synced with the browser):

- ``query``: the text of the last query run (the editor keeps the text while it is edited);
- ``result``: ``{"ok", "query", "count", "samples", "grouped", "ms", "columns"}`` of the last
  successful run (``count`` is rows, or groups after GROUP BY; ``samples`` the samples shown);
- ``error``: ``{}`` or ``{"message", "kind", "query", "line", "column", "position", "width"}`` of the
  last run when it failed (line/column are 1-based, ``position`` 0-based, ``width`` >= 1 characters
  under the caret; the position fields are None when the error has no place in the text);
- ``history``: ``[{"query", "ok", "count", "ms", "time", "error"}]``, newest first, one entry per
  distinct text, at most ``history_size``;
- ``chart``: ``{"tensor", "tql", "total", "bars": [{"name", "id", "count"}], "other", "unlabeled",
  "multi"}`` (``tql``: the tensor's name as TQL writes it, for the query a bar click writes), the
  classes of ``chart_tensor`` among the result samples (``{}`` when the dataset has no class labels);
- ``running``: a query is being run;
- ``facets``: what the filter panel offers (``facets``: per-class sample counts, numeric and
  ``len()`` ranges, text search), computed over the dataset when the widget is made or refreshed.

Messages: the browser sends ``{"type": "run", "id", "query"}``; the kernel runs it, updates the
traits above (and the grid), then replies ``{"type": "result", "id", "ok", "count", "ms"}``. The filter
panel sends ``{"type": "filter", "id", "selection"}``: the kernel writes the query it makes
(``facets.filter_query``) into ``query``, runs it, and replies as to ``run`` plus ``"query"``; so does
``{"type": "similar", "id", "position", "tensor", "k"}`` with the query ``curate.similar_query`` writes
("find similar" in the detail panel; ``similar_tensors`` lists the vector tensors it can use). The
grid's own ``page`` / ``sample`` requests are those of ``protocol``, ``tag`` / ``save_view`` those of
``SampleGridWidget``.

``w.view`` is the last successful result (a ``deeplake_nb.query.View``; None before the first run,
when the grid shows the whole dataset).
"""

from __future__ import annotations

import html
import time
from typing import Any

import numpy as np
import traitlets as t

from ..errors import QueryError, WidgetRequestError
from . import assets, curate, facets, protocol
from .facets import label_counts
from .grid import DEFAULT_THUMB, SampleGridWidget
from .source import READ_ERRORS, SampleSource

DEFAULT_PAGE_SIZE = 24
HISTORY_SIZE = 50
MAX_QUERY_CHARS = 100_000


def error_info(exc: BaseException, text: str) -> dict[str, Any]:
    """The ``error`` trait for an exception raised by a query over ``text``."""
    if isinstance(exc, QueryError):
        message = exc.message
        line, column, position = exc.line, exc.column, exc.position
        width = 1
        end = getattr(exc, "end", None)
        if isinstance(end, int) and position is not None:
            width = max(1, end - position)
        elif position is not None:  # the caret line of the message tells the width
            carets = str(exc).rstrip().rsplit("\n", 1)[-1].strip()
            width = max(1, len(carets)) if set(carets) == {"^"} else 1
        if position is not None:
            position = max(0, min(int(position), len(text)))
    else:
        message, line, column, position, width = str(exc) or type(exc).__name__, None, None, None, 1
    return {"message": message, "kind": type(exc).__name__, "query": text, "line": line, "column": column,
            "position": position, "width": width}


class QueryWidget(SampleGridWidget):
    """A TQL editor with its results: count, time, class-label chart and the sample grid.

    Enter runs the query (Shift+Enter adds a line); a malformed query shows its error with a caret
    under the spot and keeps the text; the history menu brings back earlier queries; clicking a bar
    of the chart writes a query for that class. From Python: ``w.run("SELECT ...")``, ``w.view``,
    ``w.history``, ``w.error``, ``w.selected_view``.
    """

    _esm = assets.path("query_widget.js")
    _css = assets.text("grid.css", "query_widget.css")
    summary_title = "Query results"

    query = t.Unicode("").tag(sync=True)
    result = t.Dict().tag(sync=True)
    error = t.Dict().tag(sync=True)
    history = t.List(t.Dict()).tag(sync=True)
    chart = t.Dict().tag(sync=True)
    chart_tensor = t.Unicode("").tag(sync=True)
    running = t.Bool(False).tag(sync=True)
    facets = t.List(t.Dict(), read_only=True).tag(sync=True)
    similar_tensors = t.List(t.Unicode(), read_only=True).tag(sync=True)

    def __init__(self, dataset: Any, query: str = "", *, seed: int | None = None, image_tensor: str | None = None,
                 overlays: list[str] | None = None, page_size: int = DEFAULT_PAGE_SIZE,
                 thumb_size: int = DEFAULT_THUMB, width: int | str | None = None,
                 height: int | str | None = None, history_size: int = HISTORY_SIZE) -> None:
        self._target = dataset
        self._view: Any = None
        self._seed = seed
        self._history_size = max(1, int(history_size))
        super().__init__(SampleSource(self._rows_of(dataset)), image_tensor=image_tensor, overlays=overlays,
                         page_size=page_size, thumb_size=thumb_size, width=width, height=height)
        self.title = str(getattr(self._base(), "path", "") or "")
        labels = self._source.names("label")
        self.chart_tensor = labels[0] if labels else ""
        self._update_chart()
        self._update_facets()
        if query:
            self.run(query)

    # -- Python API -------------------------------------------------------------------------------
    @property
    def dataset(self) -> Any:
        """What queries run on (the dataset, row view or View the widget was made for)."""
        return self._target

    @property
    def view(self) -> Any:
        """The View of the last successful query (None before the first)."""
        return self._view

    @property
    def results(self) -> Any:
        """The samples in the grid as a row view of the dataset (``results[i]`` is grid position i)."""
        return self._source.dataset

    def run(self, query: str | None = None) -> Any:
        """Run ``query`` (default: ``self.query``) and show its result; returns the View, or None
        when the query failed — then ``self.error`` says why and where, and the previous result
        stays shown. Errors are not raised, so a bad query typed in the browser and one passed
        here behave the same."""
        text = self.query if query is None else query
        if not isinstance(text, str):
            raise TypeError(f"A query is a string; got {type(text).__name__}.")
        self.query = text
        self.running = True
        started = time.perf_counter()
        try:
            try:
                view = self._target.query(text, seed=self._seed)
            except Exception as exc:  # noqa: BLE001 - every failure is shown, the text kept
                ms = (time.perf_counter() - started) * 1000
                self.error = error_info(exc, text)
                self._remember(text, ok=False, count=None, ms=ms, error=self.error["message"])
                return None
            ms = (time.perf_counter() - started) * 1000
            self._show(view, text, ms)
            return view
        finally:
            self.running = False

    def clear_history(self) -> None:
        self.history = []

    def filter(self, selection: dict[str, Any]) -> Any:
        """Run the query the filter panel makes of ``selection`` (see ``facets.filter_query``)."""
        return self.run(facets.filter_query(self.facets, selection))

    def refresh(self) -> None:
        """Re-read the dataset (length, tensors, filter facets) and redraw."""
        self._update_facets()
        super().refresh()

    def find_similar(self, position: int, tensor: str | None = None, k: int | None = None) -> Any:
        """Run the query finding the ``k`` (default: a page) samples whose vector tensor ``tensor``
        (default: the first, ``similar_tensors``) is closest to that of grid position ``position``:
        ``ORDER BY cosine_similarity(...) DESC LIMIT k``, written into the editor. Returns the View
        (None when the query failed; see ``run``)."""
        return self.run(self._similar_query(position, tensor, k))

    def handle_message(self, content: dict[str, Any]) -> list[protocol.Message] | None:
        kind = content.get("type")
        if kind not in ("run", "filter", "similar"):
            return super().handle_message(content)
        rid = content.get("id")
        if kind == "similar":
            text = self._similar_query(content.get("position"), content.get("tensor") or None, content.get("k"))
        elif kind == "filter":
            text = facets.filter_query(self.facets, content.get("selection"))
        else:
            query = content.get("query")
            if not isinstance(query, str) or len(query) > MAX_QUERY_CHARS:
                raise WidgetRequestError(f"Request field 'query' must be a string of at most {MAX_QUERY_CHARS} "
                                         f"characters; got {type(query).__name__}.")
            text = query
        view = self.run(text)
        if view is None:
            return [({"type": "result", "id": rid, "ok": False, "error": self.error, "query": text}, [])]
        return [({"type": "result", "id": rid, "ok": True, "count": self.result["count"],
                  "ms": self.result["ms"], "query": text}, [])]

    # -- internals --------------------------------------------------------------------------------
    def _tag_home(self) -> Any:
        return self._base()

    def _similar_query(self, position: Any, tensor: str | None, k: int | None) -> str:
        """``curate.similar_query`` over the samples shown, ``tensor`` defaulting to the first of
        ``similar_tensors`` and ``k`` to a page."""
        tensor = tensor if tensor is not None else (self.similar_tensors or [""])[0]
        return curate.similar_query(self._source.dataset, position, tensor, k or self.page_size)

    def _update_similar(self) -> None:
        self.set_trait("similar_tensors", curate.embedding_tensors(self._base()))

    def _base(self) -> Any:
        """The dataset (or group) underneath the target."""
        return getattr(self._target, "dataset", None) if _is_view(self._target) else self._target

    @staticmethod
    def _rows_of(target: Any) -> Any:
        """The samples a dataset, row view or View shows, as something ``SampleSource`` reads."""
        if _is_view(target):
            return target.dataset[np.asarray(target.sample_indices, np.int64).tolist()]
        return target

    def _show(self, view: Any, text: str, ms: float) -> None:
        self._view = view
        rows = self._rows_of(view)
        with self.hold_sync():
            self.set_source(SampleSource(rows, self._source.labels, _group_offsets(view)))
            labels = self._source.names("label")
            if self.chart_tensor not in labels:
                self.chart_tensor = labels[0] if labels else ""
            self._update_chart()
            count = len(view)
            self.result = {"ok": True, "query": text, "count": count, "samples": len(rows),
                           "grouped": bool(getattr(view, "is_grouped", False)), "ms": round(ms, 3),
                           "columns": list(getattr(view, "tensors", {}))}
            self.error = {}
        self._remember(text, ok=True, count=count, ms=ms, error=None)

    def _remember(self, text: str, ok: bool, count: int | None, ms: float, error: str | None) -> None:
        entry = {"query": text, "ok": ok, "count": count, "ms": round(ms, 3), "time": time.time(),
                 "error": None if error is None else error[:300]}
        rest = [h for h in self.history if h.get("query") != text]
        self.history = [entry, *rest][: self._history_size]

    def _update_facets(self) -> None:
        self.set_trait("facets", facets.facets(self._rows_of(self._target)))
        self._update_similar()

    def _update_chart(self) -> None:
        name = self.chart_tensor
        if not name:
            self.chart = {}
            return
        try:
            self.chart = {**label_counts(self._source.dataset, name), "tql": facets.tql_name(name)}
        except READ_ERRORS as exc:
            self.chart = {"tensor": name, "error": str(exc), "bars": [], "total": len(self._source)}

    @t.observe("chart_tensor")
    def _chart_tensor_changed(self, change: dict[str, Any]) -> None:
        if getattr(self, "_source", None) is not None and change["new"] != change["old"]:
            self._update_chart()

    @t.validate("chart_tensor")
    def _check_chart_tensor(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        if value and value not in self._source.names("label"):
            raise WidgetRequestError(f"{value!r} is not a class-label tensor; class-label tensors: "
                                     f"{self._source.names('label')}.")
        return value

    def _summary_parts(self) -> tuple[str, str]:
        text, markup = super()._summary_parts()
        lines = self._summary_lines()
        if not lines:
            return text, markup
        head, _, rest = text.partition("\n")
        block = "".join(f"<p style='margin:0 0 4px'><code>{html.escape(line)}</code></p>" for line in lines)
        return ("\n".join([head, *lines, rest]),
                markup.replace("<div class='dlnb-summary'>", f"<div class='dlnb-summary'>{block}", 1))

    def _summary_lines(self) -> list[str]:
        lines = []
        if self.query:
            lines.append(f"query: {self.query}")
        if self.error:
            where = f" (line {self.error['line']}, column {self.error['column']})" if self.error.get("line") else ""
            lines.append(f"error: {self.error['message']}{where}")
        elif self.result:
            lines.append(f"{self.result['count']} results in {self.result['ms']:.1f} ms")
        bars = self.chart.get("bars") if self.chart else None
        if bars:
            lines.append(f"{self.chart['tensor']}: " + ", ".join(f"{b['name']}={b['count']}" for b in bars[:10]))
        return lines

    def __repr__(self) -> str:
        state = f"error={self.error['message']!r}" if self.error else f"results={self.length}"
        return f"QueryWidget(path={self.title!r}, query={self.query!r}, {state}, history={len(self.history)})"


def _group_offsets(view: Any) -> np.ndarray | None:
    """Where each group of a GROUP BY result starts among its samples (then their number); None
    when the result is not grouped."""
    groups = getattr(view, "groups", None) if getattr(view, "is_grouped", False) else None
    if groups is None:
        return None
    return np.concatenate([[0], np.cumsum([len(g) for g in groups])]).astype(np.int64)


def _is_view(obj: Any) -> bool:
    return hasattr(obj, "sample_indices") and hasattr(obj, "query_string")


__all__ = ["QueryWidget", "error_info", "label_counts"]
