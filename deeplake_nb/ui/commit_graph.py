"""``CommitGraphWidget``: ``ds.commit_graph()``, the commit DAG of a dataset as a widget.

Branches run in lanes (``main`` leftmost), merge commits draw an edge from each extra parent,
branch and tag names sit on their commits, HEAD is ringed, and uncommitted changes show as a
dashed node above HEAD. Click a commit for its message, author, time and its diff against its
first parent (per tensor: created/deleted, samples added/updated/deleted); the buttons check it out,
create a branch there, or diff the two selected commits. All of it acts on the dataset in the kernel.

Layout is computed here (``layout``), so the browser only draws, and the ``graph`` trait is small
(at most ``max_commits`` commits, newest first, messages cut to one line):

    {"commits": [{"id", "short", "parents", "message", "author", "time", "lane", "row"}],
     "lanes": [{"lane", "name", "kind", "top", "bottom"}],    # kind: branch | tag | head | other
     "branches": {name: id}, "tags": {name: id}, "head": id, "branch": name | None,
     "dirty": bool, "working": {"row", "lane"} | None, "rows": int, "total": int, "truncated": bool}

Staying current: the dataset has no change hook, so the browser sends ``poll`` every
``poll_seconds`` while the widget is on screen (and at once when the pointer or focus enters it);
the kernel compares a cheap signature (branch, head, dirty flag, branch heads, tags) and rebuilds the
graph only when it changed. ``g.refresh()`` does the same from Python.

Messages (browser -> kernel, each with an ``id`` its reply repeats):

- ``{"type": "poll"}`` -> ``{"type": "poll", "changed": bool}``;
- ``{"type": "commit", "commit"}`` -> ``{"type": "commit", "info": {...}}`` (see ``commit_info``);
- ``{"type": "diff", "a", "b"}`` -> ``{"type": "diff", "a", "b", "tensors": [...]}`` (see ``diff``);
- ``{"type": "checkout", "ref"}`` -> ``{"type": "checkout", "branch", "commit"}``;
- ``{"type": "branch", "name", "commit"}`` -> ``{"type": "branch", "branch", "commit"}``;
- any failure -> ``{"type": "error", "id", "message"}``.

Importing this module imports anywidget.
"""

from __future__ import annotations

import heapq
import html
import time
from typing import Any

import anywidget
import traitlets as t

from ..core import internal
from ..errors import BranchExistsError, DatasetNotFoundError, DeepLakeNBError, WidgetRequestError
from . import assets, protocol, summary
from .grid import css_size

MAX_COMMITS = 300
MESSAGE_CHARS = 120
INFO_MESSAGE_CHARS = 4000
INDEX_PREVIEW = 10
WORKING = "__working__"
MAIN = "main"
REQUEST_TYPES = ("poll", "commit", "diff", "checkout", "branch")
HINT = "Interactive graph: run this notebook in JupyterLab, Notebook 7 or VS Code (with anywidget installed)."


# -- reading the history ---------------------------------------------------------------------------
def _repo(dataset: Any) -> Any:
    return internal.repository(dataset)


def checked_out(dataset: Any) -> str | None:
    """The branch checked out, None on a commit or tag (``ds.branch`` then names the branch that
    commit heads, as Deep Lake v3 does; the graph shows such a checkout as a detached HEAD)."""
    return internal.versioned_store(dataset).branch


def signature(dataset: Any) -> tuple:
    """What the graph depends on, cheap to read: branch, head, dirty flag, branch heads and tags."""
    branch = checked_out(dataset)
    return (branch, dataset.commit_id, bool(branch is not None and dataset.has_head_changes),
            tuple(sorted(_repo(dataset).branches.items())), tuple(sorted(dataset.version_tags.items())))


def collect(dataset: Any, max_commits: int = MAX_COMMITS) -> tuple[dict[str, Any], int, bool]:
    """The newest ``max_commits`` commits reachable from any branch, tag or HEAD (id -> Commit),
    the number reachable in all (counted up to ``10 * max_commits``), and whether some were left out."""
    repo = _repo(dataset)
    starts = {*repo.branches.values(), *dataset.version_tags.values(), dataset.commit_id}
    found: dict[str, Any] = {}
    seen: set[str] = set()
    heap: list[tuple[float, str]] = []
    for cid in starts:
        doc = repo.commit_doc(cid)
        seen.add(cid)
        heapq.heappush(heap, (-doc.time, cid))
    limit = 10 * max_commits
    while heap and len(found) < max_commits:
        _, cid = heapq.heappop(heap)
        doc = repo.commit_doc(cid)
        found[cid] = doc
        for parent in doc.parents:
            if parent not in seen and len(seen) < limit:
                seen.add(parent)
                heapq.heappush(heap, (-repo.commit_doc(parent).time, parent))
    return found, max(len(seen), len(found)), bool(heap)


def _order(commits: dict[str, Any]) -> list[str]:
    """Children before parents, newest first among those ready (Kahn's algorithm on time)."""
    children = {cid: 0 for cid in commits}
    for doc in commits.values():
        for parent in dict.fromkeys(doc.parents):
            if parent in children:
                children[parent] += 1
    ready = [(-commits[cid].time, cid) for cid, n in children.items() if n == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, cid = heapq.heappop(ready)
        out.append(cid)
        for parent in dict.fromkeys(commits[cid].parents):
            if parent in children:
                children[parent] -= 1
                if children[parent] == 0:
                    heapq.heappush(ready, (-commits[parent].time, parent))
    return out


def layout(commits: dict[str, Any], branches: dict[str, str], tags: dict[str, str], head: str,
           branch: str | None, dirty: bool) -> dict[str, Any]:
    """Rows and lanes for the commits (id -> object with ``parents`` and ``time``).

    Rows: children above parents, newest first (row 0 is the uncommitted-changes node when
    ``dirty``). Lanes: each branch (``main`` first, then the checked-out one, then by name), then
    tags, then a detached HEAD, then what is left, claims the commits on its first-parent chain that
    no earlier lane claimed; a lane then takes the leftmost column free over the rows its line runs
    through (the browser draws a fork as a line down the child's lane that bends into the parent's
    lane in the row band above the parent, and a merge as a bend into the merged lane in the band
    below the merge commit, then a line down it)."""
    order = _order(commits)
    offset = 1 if dirty else 0
    row = {cid: i + offset for i, cid in enumerate(order)}
    if dirty:
        row[WORKING] = 0
    refs: list[tuple[str, str, str]] = []
    for name in sorted(branches, key=lambda b: (b != MAIN, b != branch, b)):
        refs.append((name, "branch", branches[name]))
    refs += [(name, "tag", tags[name]) for name in sorted(tags)]
    if branch is None:
        refs.append(("HEAD", "head", head))
    owner: dict[str, int] = {}
    lanes: list[dict[str, Any]] = []
    members: list[list[str]] = []

    def claim(name: str, kind: str, start: str) -> None:
        chain = []
        cid: str | None = start
        while cid is not None and cid in commits and cid not in owner:
            chain.append(cid)
            parents = commits[cid].parents
            cid = parents[0] if parents else None
        if chain:
            for c in chain:
                owner[c] = len(lanes)
            lanes.append({"name": name, "kind": kind})
            members.append(chain)

    for name, kind, start in refs:
        claim(name, kind, start)
    for cid in order:
        if cid not in owner:
            claim("", "other", cid)
    if dirty:
        lane_of_head = owner.get(head)
        if lane_of_head is None:
            claim(branch or "HEAD", "branch", head)
            lane_of_head = owner.get(head, 0)
        owner[WORKING] = lane_of_head
        members[lane_of_head].insert(0, WORKING)
    # the rows whose band a lane's column is drawn in: its commits, down to just above the parent it
    # forks from (a first parent in another lane), and up to just below each commit that merges it
    spans = []
    for k, chain in enumerate(members):
        rows = [row[c] for c in chain]
        top, bottom = min(rows), max(rows)
        for c in chain:
            parents = commits[c].parents if c != WORKING else (head,)
            if parents and parents[0] in row and owner.get(parents[0]) != k:
                bottom = max(bottom, row[parents[0]] - 1)
        for cid in order:
            if owner[cid] != k and any(owner.get(p) == k for p in commits[cid].parents[1:]):
                top = min(top, row[cid] + 1)
        if k == 0 and lanes[0]["name"] == MAIN:
            top = 0  # the main line's column is its own, all the way up
        spans.append((top, bottom))
    columns: list[list[tuple[int, int]]] = []
    for k, (top, bottom) in enumerate(spans):
        for col, used in enumerate(columns):  # noqa: B007 - col: the lane found, read after the break
            if all(bottom < a or top > b for a, b in used):
                used.append((top, bottom))
                break
        else:
            col = len(columns)
            columns.append([(top, bottom)])
        lanes[k].update(lane=col, top=top, bottom=bottom)
    out = [{"id": cid, "parents": list(commits[cid].parents), "lane": lanes[owner[cid]]["lane"], "row": row[cid]}
           for cid in order]
    return {"order": out, "lanes": lanes, "columns": len(columns),
            "working": {"row": 0, "lane": lanes[owner[WORKING]]["lane"]} if dirty else None,
            "rows": len(order) + offset}


def graph_data(dataset: Any, max_commits: int = MAX_COMMITS) -> dict[str, Any]:
    """The ``graph`` trait for ``dataset`` (see the module doc)."""
    commits, total, truncated = collect(dataset, max_commits)
    branches = dict(sorted(_repo(dataset).branches.items()))
    tags = dict(sorted(dataset.version_tags.items()))
    head, branch = dataset.commit_id, checked_out(dataset)
    dirty = bool(branch is not None and dataset.has_head_changes)
    placed = layout(commits, branches, tags, head, branch, dirty)
    rows = []
    for entry in placed["order"]:
        doc = commits[entry["id"]]
        first_line = (doc.message or "").strip().split("\n", 1)[0]
        rows.append({**entry, "short": short_id(doc.id), "message": first_line[:MESSAGE_CHARS],
                     "author": doc.author, "time": doc.time})
    return {"commits": rows, "lanes": placed["lanes"], "columns": placed["columns"], "branches": branches,
            "tags": tags, "head": head, "branch": branch, "dirty": dirty, "working": placed["working"],
            "rows": placed["rows"], "total": total, "truncated": truncated}


def summarize_diff(changes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``ds._sample_changes(a, b)`` -> one row per changed tensor: status (created, deleted,
    renamed, changed), sample counts, and the first few indices of each kind."""
    out = []
    for name in sorted(changes):
        c = changes[name]
        status = ("deleted" if c.get("deleted") else "created" if c.get("created")
                  else "renamed" if c.get("renamed_from") else "changed")
        added, updated, removed = len(c.get("added", [])), len(c.get("updated", [])), len(c.get("deleted_samples", []))
        if status == "changed" and not (added or updated or removed):
            continue
        out.append({"tensor": name, "status": status, "renamed_from": c.get("renamed_from"), "added": added,
                    "updated": updated, "deleted": removed,
                    "added_indices": list(c.get("added_indices", []))[:INDEX_PREVIEW],
                    "updated_indices": list(c.get("updated_indices", []))[:INDEX_PREVIEW],
                    "deleted_indices": list(c.get("deleted_indices", []))[:INDEX_PREVIEW]})
    return out


def short_id(commit_id: str) -> str:
    """8 hex digits that tell commits apart (ids start with their creation time, so the first
    digits of commits made close together are equal; see ``version.names``): the start of the
    id's random part, which ``checkout``, ``load("path@<short>")``, ``diff`` and
    ``get_commit_details`` accept like the full id (``Repository.locate``)."""
    return commit_id[12:20] if len(commit_id) == 32 else commit_id[:8]


def _fmt_time(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


# -- the widget ------------------------------------------------------------------------------------
class CommitGraphWidget(summary.SummaryRepr, anywidget.AnyWidget):
    """The commit graph of a dataset; see the module doc. ``selected`` holds up to two commit ids
    (click selects one, Ctrl/Shift-click a second for a diff)."""

    _esm = assets.path("commit_graph.js")
    _css = assets.text("grid.css", "commit_graph.css")
    _lib_esm = t.Unicode(assets.text("grid.js")).tag(sync=True)

    title = t.Unicode("").tag(sync=True)
    graph = t.Dict().tag(sync=True)
    selected = t.List(t.Unicode()).tag(sync=True)
    poll_seconds = t.Float(3.0).tag(sync=True)
    height = t.Unicode("").tag(sync=True)

    def __init__(self, dataset: Any, *, max_commits: int = MAX_COMMITS, poll_seconds: float = 3.0,
                 height: int | str | None = None) -> None:
        super().__init__()
        self._dataset = dataset
        self._max_commits = max(1, int(max_commits))
        self._signature: tuple | None = None
        self.title = str(getattr(dataset, "path", "") or "")
        self.poll_seconds = float(poll_seconds)
        self.height = css_size(height)
        self.refresh(force=True)
        self.on_msg(self._on_msg)

    # -- Python API -------------------------------------------------------------------------------
    @property
    def dataset(self) -> Any:
        return self._dataset

    def refresh(self, force: bool = False) -> bool:
        """Re-read branches, tags, HEAD and the dirty flag; rebuild ``graph`` when any changed (or
        ``force``). Returns whether it was rebuilt."""
        current = signature(self._dataset)
        if not force and current == self._signature:
            return False
        self.graph = graph_data(self._dataset, self._max_commits)
        self._signature = current
        known = {c["id"] for c in self.graph["commits"]}
        if any(cid not in known for cid in self.selected):
            self.selected = [cid for cid in self.selected if cid in known]
        return True

    def resolve(self, ref: str) -> str:
        """The commit id of a branch, tag or (full) commit id."""
        return _repo(self._dataset).resolve(ref)

    def commit_info(self, ref: str) -> dict[str, Any]:
        """Message, author, time, parents, refs and the diff against the first parent of a commit."""
        repo = _repo(self._dataset)
        doc = repo.commit_doc(ref)
        graph = self.graph
        info = {"id": doc.id, "message": doc.message[:INFO_MESSAGE_CHARS], "author": doc.author, "time": doc.time,
                "time_text": _fmt_time(doc.time), "parents": list(doc.parents),
                "branches": [b for b, c in graph.get("branches", {}).items() if c == doc.id],
                "tags": [n for n, c in graph.get("tags", {}).items() if c == doc.id],
                "is_head": doc.id == self._dataset.commit_id}
        if doc.parents:
            info["diff_base"] = doc.parents[0]
            info["diff"] = self.diff(doc.parents[0], doc.id)
        else:
            info["diff_base"] = None
            info["diff"] = []
        return info

    def diff(self, a: str, b: str) -> list[dict[str, Any]]:
        """Per-tensor summary of ``ds._sample_changes(a, b)`` (changes from ``a`` to ``b``).

        A version with no dataset yet (the empty root commit ``dl.empty`` makes) counts as having
        no tensors: ``ds.diff`` cannot open it, so the other side's tensors are listed as created
        (or deleted) with all their samples."""
        try:
            return summarize_diff(self._dataset._sample_changes(a, b))
        except DatasetNotFoundError:
            old, new = self._tensor_lengths(a), self._tensor_lengths(b)
            if old is not None and new is not None:
                raise
        rows = []
        for name, n in sorted((new or {}).items()):
            rows.append({"tensor": name, "status": "created", "renamed_from": None, "added": n, "updated": 0,
                         "deleted": 0, "added_indices": list(range(min(n, INDEX_PREVIEW))), "updated_indices": [],
                         "deleted_indices": []})
        for name, n in sorted((old or {}).items()):
            rows.append({"tensor": name, "status": "deleted", "renamed_from": None, "added": 0, "updated": 0,
                         "deleted": n, "added_indices": [], "updated_indices": [],
                         "deleted_indices": list(range(min(n, INDEX_PREVIEW)))})
        return rows

    def _tensor_lengths(self, ref: str) -> dict[str, int] | None:
        """Tensor name -> number of samples at ``ref``; None where ``ref`` holds no dataset yet."""
        try:
            version = internal.open_version(self._dataset, self.resolve(ref))
        except DatasetNotFoundError:
            return None
        return {name: len(tensor) for name, tensor in version.tensors.items()}

    def checkout(self, ref: str) -> str:
        """``ds.checkout(ref)`` (a branch, tag or commit id); returns the commit now checked out."""
        commit = self._dataset.checkout(ref)
        self.refresh()
        return commit

    def create_branch(self, name: str, at: str | None = None) -> str:
        """Create branch ``name`` at commit ``at`` (default: the current one) and check it out, like
        ``git checkout -b name at``. Uncommitted changes stay on the branch they were made on."""
        ds = self._dataset
        if not isinstance(name, str) or not name:
            raise WidgetRequestError("A new branch needs a name.")
        if name in ds.branches or name in ds.version_tags:
            raise BranchExistsError(f"A branch or tag named {name!r} already exists.")
        from ..version.refs import validate_name
        validate_name(name, "branch")
        target = self.resolve(at or ds.commit_id)
        back = checked_out(ds) or ds.commit_id
        ds.checkout(target)  # detached there first, so nothing is auto-committed on the old branch
        try:
            commit = ds.checkout(name, create=True)
        except BaseException:
            ds.checkout(back)
            raise
        self.refresh()
        return commit

    # -- messages ---------------------------------------------------------------------------------
    def handle_request(self, content: dict[str, Any]) -> list[protocol.Message]:
        """The replies to one browser request (failures become one ``error`` reply)."""
        rid = content.get("id") if isinstance(content, dict) else None
        try:
            kind = content.get("type") if isinstance(content, dict) else None
            if kind not in REQUEST_TYPES:
                raise WidgetRequestError(f"Unknown request {content!r}; requests have a type in {REQUEST_TYPES}.")
            if kind == "poll":
                return [({"type": "poll", "id": rid, "changed": self.refresh()}, [])]
            if kind == "commit":
                return [({"type": "commit", "id": rid, "info": self.commit_info(_field(content, "commit"))}, [])]
            if kind == "diff":
                a, b = _field(content, "a"), _field(content, "b")
                return [({"type": "diff", "id": rid, "a": a, "b": b, "tensors": self.diff(a, b)}, [])]
            if kind == "checkout":
                commit = self.checkout(_field(content, "ref"))
                return [({"type": "checkout", "id": rid, "branch": checked_out(self._dataset), "commit": commit}, [])]
            commit = self.create_branch(_field(content, "name"), _field(content, "commit"))
            return [({"type": "branch", "id": rid, "branch": checked_out(self._dataset), "commit": commit}, [])]
        except (DeepLakeNBError, ValueError, KeyError) as exc:
            self.refresh()
            return [({"type": "error", "id": rid, "message": str(exc)}, [])]

    def _on_msg(self, _widget: Any, content: Any, _buffers: list[Any]) -> None:
        if not isinstance(content, dict) or content.get("type") not in REQUEST_TYPES:
            return  # e.g. anywidget's own command messages
        try:
            for reply, buffers in self.handle_request(content):
                self.send(reply, buffers)
        except Exception as exc:  # a bug must not leave the browser waiting forever
            self.log.exception("deeplake_nb commit graph request failed")
            self.send({"type": "error", "id": content.get("id"), "message": f"{type(exc).__name__}: {exc}"})

    # -- display ----------------------------------------------------------------------------------
    def summary_text(self) -> str:
        """The graph as text, one line per commit (``git log --graph`` style)."""
        g = self.graph
        where = f"branch {g['branch']!r}" if g.get("branch") else "detached HEAD"
        lines = [f"Commit graph: {self.title!r}, {len(g['commits'])} of {g['total']} commits, {where} at "
                 f"{short_id(g['head'])}" + (" (uncommitted changes)" if g["dirty"] else "")]
        refs: dict[str, list[str]] = {}
        for name, cid in g["branches"].items():
            refs.setdefault(cid, []).append(f"HEAD -> {name}" if name == g["branch"] else name)
        for name, cid in g["tags"].items():
            refs.setdefault(cid, []).append(f"tag: {name}")
        if g["branch"] is None:
            refs.setdefault(g["head"], []).insert(0, "HEAD")
        spans = [(lane["lane"], lane["top"], lane["bottom"]) for lane in g["lanes"]]
        width = g["columns"]

        def rail(row: int, mark_col: int, mark: str) -> str:
            cells = [" "] * width
            for col, top, bottom in spans:
                if top <= row <= bottom:
                    cells[col] = "|"
            cells[mark_col] = mark
            return " ".join(cells)

        if g["working"]:
            lines.append(f"  {rail(0, g['working']['lane'], 'o')}  (uncommitted changes)")
        for c in g["commits"]:
            label = f" ({', '.join(refs[c['id']])})" if c["id"] in refs else ""
            merge = " [merge]" if len(c["parents"]) > 1 else ""
            lines.append(f"  {rail(c['row'], c['lane'], '*')}  {c['short']}{label}{merge} {c['message']}"
                         f" - {c['author']}, {_fmt_time(c['time'])}")
        if g["truncated"]:
            lines.append(f"  ... {g['total'] - len(g['commits'])}+ older commits not shown")
        return "\n".join(lines)

    def _summary_parts(self) -> tuple[str, str]:
        text = self.summary_text()
        return (f"{text}\n{HINT}", f"<div class='dlnb-summary'><pre>{html.escape(text)}</pre>"
                f"<p style='margin:6px 0 0;color:#666'><i>{html.escape(HINT)}</i></p></div>")

    def __repr__(self) -> str:
        g = self.graph
        return (f"CommitGraphWidget(path={self.title!r}, commits={len(g.get('commits', []))}, "
                f"branch={g.get('branch')!r}, head={short_id(str(g.get('head', '')))!r}, dirty={g.get('dirty')})")


def _field(content: dict[str, Any], key: str) -> str:
    value = content.get(key)
    if not isinstance(value, str) or not value:
        raise WidgetRequestError(f"Request field {key!r} must be a non-empty string; got {value!r}.")
    return value


__all__ = ["CommitGraphWidget", "collect", "graph_data", "layout", "signature", "summarize_diff"]
