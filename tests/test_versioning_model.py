"""Model-based test of version control: random programs of append / update / pop / commit /
checkout / branch / merge / reset / reopen, run against a dataset and against a plain in-memory
model (rows are (hidden id, value) lists; commits a dict; merges three-way by id). After every
step the open dataset equals the model, and every commit ever made reads back exactly what the
model recorded for it.

Chunks are made small (4 KiB tables, 16 KiB heaps) so that every program crosses chunk
boundaries and writes stay cheap; chunk sizes are recorded in the zarr metadata, so nothing else
changes.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.format import columns, tensor_store

Row = tuple[int, int]  # (hidden id, value)

SMALL_CHUNKS = {"TABLE_CHUNK_BYTES": 4096, "DENSE_CHUNK_BYTES": 4096, "HEAP_CHUNK_BYTES": 16384,
                "HEAP_CHUNK_BYTES_COMPRESSED": 16384}


def use_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (columns, tensor_store):
        for name, value in SMALL_CHUNKS.items():
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)


@dataclass
class Branch:
    head: str
    rows: list[Row]
    dirty: bool = False


@dataclass
class Model:
    commits: dict[str, list[Row]] = field(default_factory=dict)
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    branches: dict[str, Branch] = field(default_factory=dict)
    current: str = "main"

    def add_commit(self, cid: str, rows: list[Row], parents: tuple[str, ...]) -> None:
        assert cid not in self.commits
        self.commits[cid], self.parents[cid], self.order[cid] = list(rows), parents, len(self.order)

    def ancestors(self, cid: str) -> set[str]:
        seen, todo = set(), [cid]
        while todo:
            c = todo.pop()
            if c not in seen:
                seen.add(c)
                todo.extend(self.parents[c])
        return seen

    def merge_base(self, a: str, b: str) -> str:
        common = self.ancestors(a) & self.ancestors(b)
        below = set().union(*(self.ancestors(p) for c in common for p in self.parents[c]))
        return max(common - below, key=self.order.__getitem__)


def _diff(base: list[Row], new: list[Row]) -> tuple[list[int], list[int], list[int]]:
    """(added in new's order, updated, removed) ids from base to new."""
    old = dict(base)
    now = dict(new)
    return ([i for i, _ in new if i not in old], [i for i, v in new if i in old and old[i] != v],
            [i for i, _ in base if i not in now])


def three_way(base: list[Row], ours: list[Row], theirs: list[Row], resolution: str | None,
              deletions: bool = False) -> tuple[list[Row] | None, set[int]]:
    """The merged rows (None when there are unresolved conflicts) and the conflicting ids. Their
    deletions are replayed only with ``deletions`` (``delete_removed_samples``); without it a
    row we deleted that they updated comes back, as in Deep Lake v3."""
    o_add, o_upd, o_rem = _diff(base, ours)
    t_add, t_upd, t_rem = _diff(base, theirs)
    our, their = dict(ours), dict(theirs)
    both = set(o_upd) & set(t_upd)
    agreed = {i for i in both if our[i] == their[i]}
    conflicts = both - agreed
    if deletions:
        conflicts |= (set(t_upd) & set(o_rem)) | (set(t_rem) & set(o_upd))
    if conflicts and resolution is None:
        return None, conflicts
    take = resolution == "theirs"
    updates = {i: their[i] for i in t_upd if i not in agreed and (take or i not in conflicts) and i in our}
    rows = [(i, updates.get(i, v)) for i, v in ours]
    revive = set(t_upd) & set(o_rem) if take or not deletions else set()
    rows += [(i, their[i]) for i, _ in theirs if (i in t_add and i not in our) or i in revive]  # in their order
    if not deletions:
        return rows, conflicts
    keep = set(t_rem) & set(o_upd) if resolution == "ours" else set()
    drop = {i for i in t_rem if take or (i not in conflicts and i not in keep)}
    return [(i, v) for i, v in rows if i not in drop], conflicts


class VersionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp()
        self.path = f"{self.tmp}/ds"
        self.ds = dl.empty(self.path)
        self.ds.create_tensor("v", dtype="int64")
        self.ds.create_tensor("s", htype="text", chunk_compression="lz4")
        self.model = Model()
        root = self.ds.commit_id  # the empty root commit (``commits`` leaves it out)
        self.model.add_commit(root, [], ())
        self.model.branches["main"] = Branch(head=root, rows=[], dirty=True)  # the schema is uncommitted

    def teardown(self) -> None:
        try:
            for cid, rows in self.model.commits.items():  # every commit reads back exactly
                if self.model.parents[cid]:  # the root has no tensors
                    assert self.read(dl.load(self.path, version=cid)) == rows, cid
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def branch(self) -> Branch:
        return self.model.branches[self.model.current]

    @staticmethod
    def read(ds: dl.Dataset) -> list[Row]:
        ids, values, texts = ds.v.sample_ids.tolist(), ds.v.numpy().ravel().tolist(), ds.s.text()
        assert ds.s.sample_ids.tolist() == ids and texts == [str(v) for v in values]  # rows stay whole
        return list(zip(ids, values))

    @initialize()
    def first_commit(self) -> None:
        """The schema as the first commit, and branch "a" there (so merges have two sides early)."""
        self.commit()
        self.branch_off("a")
        self._switch("main")

    # -- writes -------------------------------------------------------------------------------------
    @rule(values=st.lists(st.integers(0, 5), min_size=1, max_size=3))
    def append(self, values: list[int]) -> None:
        with self.ds:
            for v in values:
                self.ds.append({"v": v, "s": str(v)})
        ids = self.ds.v.sample_ids.tolist()[-len(values):]
        self.branch.rows += list(zip(ids, values))
        self.branch.dirty = True

    @precondition(lambda self: self.branch.rows)
    @rule(data=st.data(), value=st.integers(0, 5))
    def update(self, data: st.DataObject, value: int) -> None:
        i = data.draw(st.integers(0, len(self.branch.rows) - 1))
        self.ds.v[i] = value
        self.ds.s[i] = str(value)
        self.branch.rows[i] = (self.branch.rows[i][0], value)
        self.branch.dirty = True

    @precondition(lambda self: self.branch.rows)
    @rule(data=st.data())
    def pop(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.branch.rows) - 1))
        self.ds.pop(i)
        del self.branch.rows[i]
        self.branch.dirty = True

    # -- history ------------------------------------------------------------------------------------
    @rule()
    def commit(self) -> None:
        b = self.branch
        if not b.dirty:
            with pytest.raises(errors.VersionError, match="Nothing to commit"):
                self.ds.commit("nothing")
            return
        cid = self.ds.commit("c")
        self.model.add_commit(cid, b.rows, (b.head,))
        b.head, b.dirty = cid, False

    @rule(name=st.sampled_from(["a", "b", "c"]))
    def branch_off(self, name: str) -> None:
        if name in self.model.branches:
            with pytest.raises(errors.BranchExistsError):
                self.ds.checkout(name, create=True)
            return
        b = self.branch
        head = self.ds.checkout(name, create=True)
        if b.dirty:  # auto commit on the old branch first
            self.model.add_commit(head, b.rows, (b.head,))
            b.head, b.dirty = head, False
        assert head == b.head
        self.model.branches[name] = Branch(head=head, rows=list(b.rows))
        self.model.current = name

    @rule(data=st.data())
    def checkout(self, data: st.DataObject) -> None:
        self._switch(data.draw(st.sampled_from(sorted(self.model.branches))))

    def _switch(self, name: str) -> None:
        assert self.ds.checkout(name) == self.model.branches[name].head
        self.model.current = name

    @precondition(lambda self: len(self.model.branches) > 1)
    @rule(data=st.data(), change=st.sampled_from(["append", "update", "pop"]), value=st.integers(0, 5))
    def change_another_branch(self, data: st.DataObject, change: str, value: int) -> None:
        """Commit one change on another branch and come back, so that merges have two sides."""
        here = self.model.current
        self._switch(data.draw(st.sampled_from(sorted(set(self.model.branches) - {here}))))
        if change == "append" or not self.branch.rows:
            self.append([value])
        elif change == "update":
            self.update(data, value)
        else:
            self.pop(data)
        self.commit()
        self._switch(here)

    @precondition(lambda self: len(self.model.branches) > 1)
    @rule(data=st.data(), resolution=st.sampled_from([None, None, "ours", "theirs"]), deletions=st.booleans())
    def merge(self, data: st.DataObject, resolution: str | None, deletions: bool) -> None:
        other = data.draw(st.sampled_from(sorted(set(self.model.branches) - {self.model.current})))
        b, theirs = self.branch, self.model.branches[other]
        auto = other != self.model.current and theirs.dirty  # their uncommitted changes are committed first
        base = self.model.merge_base(b.head, theirs.head)
        if base == theirs.head and not auto:
            assert self.ds.merge(other, conflict_resolution=resolution, delete_removed_samples=deletions) is None
            return

        def settle_auto_commit() -> None:
            if auto:
                cid = self.ds._repo.branches[other]
                self.model.add_commit(cid, theirs.rows, (theirs.head,))
                theirs.head, theirs.dirty = cid, False

        rows, conflicts = three_way(self.model.commits[base], b.rows, list(theirs.rows), resolution, deletions)
        if rows is None:
            with pytest.raises(errors.MergeConflictError) as info:
                self.ds.merge(other, delete_removed_samples=deletions)
            assert {i for ids in info.value.conflicts.values() for i in ids} == conflicts
            settle_auto_commit()
            return
        cid = self.ds.merge(other, conflict_resolution=resolution, delete_removed_samples=deletions)
        settle_auto_commit()
        assert self.ds.commits[0]["parents"] == [b.head, theirs.head]
        self.model.add_commit(cid, rows, (b.head, theirs.head))
        b.head, b.rows, b.dirty = cid, rows, False

    @rule()
    def reset(self) -> None:
        self.ds.reset()
        b = self.branch
        b.rows, b.dirty = list(self.model.commits[b.head]), False

    @rule(data=st.data())
    def delete_branch(self, data: st.DataObject) -> None:
        others = sorted(set(self.model.branches) - {"main", self.model.current})
        if not others:
            return
        name = data.draw(st.sampled_from(others))
        self.ds.delete_branch(name)
        del self.model.branches[name]

    @rule()
    def collect_garbage(self) -> None:
        dl.gc(self.path, grace_seconds=0)  # nothing else writes: no grace needed
        live = set().union(*(self.model.ancestors(b.head) for b in self.model.branches.values()))
        self.model.commits = {c: rows for c, rows in self.model.commits.items() if c in live}

    @rule()
    def reopen(self) -> None:
        self.ds = dl.load(self.path, version=self.model.current)

    @precondition(lambda self: len(self.model.commits) > 1)
    @rule(data=st.data())
    def time_travel(self, data: st.DataObject) -> None:
        cid = data.draw(st.sampled_from(sorted(c for c in self.model.commits if self.model.parents[c])))
        old = dl.load(self.path, version=cid)
        assert old.commit_id == cid and self.read(old) == self.model.commits[cid]

    # -- after every step -----------------------------------------------------------------------------
    @invariant()
    def matches_model(self) -> None:
        b = self.branch
        assert self.ds.branch == self.model.current and self.ds.commit_id == b.head
        assert self.read(self.ds) == b.rows
        assert self.ds.has_head_changes == b.dirty


def test_random_programs_match_the_model(monkeypatch):
    use_small_chunks(monkeypatch)
    run_state_machine_as_test(VersionMachine, settings=settings(
        max_examples=20, stateful_step_count=30, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def _random_changes(ds: dl.Dataset, rows: list[Row], rng: random.Random) -> list[Row]:
    """A few random appends, updates (often of the first rows, so both sides touch the same
    ones) and pops on ``ds``, mirrored on ``rows``; returns the new rows."""
    rows = list(rows)
    for _ in range(rng.randint(2, 6)):
        op = rng.choice(["append", "update", "update", "update", "pop"]) if rows else "append"
        if op == "append":
            v = rng.randint(0, 9)
            ds.append({"v": v, "s": str(v)})
            rows.append((ds.v.sample_ids.tolist()[-1], v))
        elif op == "update":
            i, v = rng.randint(0, min(2, len(rows) - 1)), rng.randint(0, 9)
            ds.v[i], ds.s[i] = v, str(v)
            rows[i] = (rows[i][0], v)
        else:
            i = rng.randint(0, len(rows) - 1)
            ds.pop(i)
            del rows[i]
    return rows


@pytest.mark.parametrize("seed", range(12))
def test_random_merges_match_the_model(tmp_path, seed):
    """Two branches changed at random from one commit, merged with every resolution, with and
    without delete_removed_samples: rows (ids and values, in order) and conflicts as the model says."""
    rng = random.Random(seed)
    for deletions in (False, True):
        ds = dl.empty(str(tmp_path / f"ds{deletions}"))
        ds.create_tensor("v", dtype="int64")
        ds.create_tensor("s", htype="text")
        base = _random_changes(ds, [], random.Random(seed))
        ds.commit("base")
        ds.checkout("other", create=True)
        theirs = _random_changes(ds, base, rng)
        ds.commit("theirs")
        ds.checkout("main")
        ours = _random_changes(ds, base, rng)
        ds.commit("ours")
        for resolution in (None, "ours", "theirs"):
            ds.checkout(f"merge-{resolution}", create=True)  # at our head: each try on a branch of its own
            head = ds.commit_id
            rows, conflicts = three_way(base, ours, theirs, resolution, deletions)
            if rows is None:
                with pytest.raises(errors.MergeConflictError) as info:
                    ds.merge("other", delete_removed_samples=deletions)
                assert {i for ids in info.value.conflicts.values() for i in ids} == conflicts
                assert ds.commit_id == head and VersionMachine.read(ds) == ours
            else:
                ds.merge("other", conflict_resolution=resolution, delete_removed_samples=deletions)
                assert VersionMachine.read(ds) == rows, (resolution, deletions)
            ds.checkout("main")


def test_three_way_model_examples():
    """The model's merge on a few hand-checked cases (so the model itself is trusted)."""
    base = [(1, 0), (2, 0), (3, 0)]
    assert three_way(base, base + [(4, 1)], base + [(5, 2)], None) == ([(1, 0), (2, 0), (3, 0), (4, 1), (5, 2)], set())
    assert three_way(base, [(1, 9), (2, 0), (3, 0)], [(1, 0), (2, 8), (3, 0)], None)[0] == [(1, 9), (2, 8), (3, 0)]
    assert three_way(base, [(1, 9), (2, 0), (3, 0)], [(1, 8), (2, 0), (3, 0)], None) == (None, {1})
    assert three_way(base, [(1, 9), (2, 0), (3, 0)], [(1, 8), (2, 0), (3, 0)], "theirs")[0][0] == (1, 8)
    # v3: their deletions stay out; a row we deleted that they updated comes back (with what they added, in their order)
    assert three_way(base, [(1, 0), (3, 0)], [(2, 0), (4, 4), (3, 0)], None) == ([(1, 0), (3, 0)] + [(4, 4)], set())
    assert three_way(base, [(2, 0), (3, 0)], [(6, 6), (1, 5), (2, 0), (3, 0)], None)[0] == [(2, 0), (3, 0), (6, 6), (1, 5)]
    assert three_way(base, [(1, 5), (2, 0), (3, 0)], [(2, 0), (3, 0)], None)[0] == [(1, 5), (2, 0), (3, 0)]
    # delete_removed_samples: their deletions land; update against deletion is a conflict
    assert three_way(base, base, [(2, 0), (3, 0)], None, True)[0] == [(2, 0), (3, 0)]
    assert three_way(base, [(2, 0), (3, 0)], [(1, 5), (2, 0), (3, 0)], None, True) == (None, {1})
    assert three_way(base, [(2, 0), (3, 0)], [(1, 5), (2, 0), (3, 0)], "theirs", True)[0] == [(2, 0), (3, 0), (1, 5)]
    assert three_way(base, [(1, 5), (2, 0), (3, 0)], [(2, 0), (3, 0)], "ours", True)[0] == [(1, 5), (2, 0), (3, 0)]
    assert three_way(base, [(1, 5), (2, 0), (3, 0)], [(2, 0), (3, 0)], "theirs", True)[0] == [(2, 0), (3, 0)]


def test_meta_documents_read_share_nothing_with_the_parsed_document():
    """Metadata read from a (cached) parsed document is a copy: changing a tensor's info or a
    list field of one version's meta cannot reach the document other versions read."""
    from deeplake_nb.format.meta import DatasetMeta, TensorMeta

    doc = TensorMeta(htype="class_label", base_htype="class_label", kind="dense", dtype="uint32", info={"class_names": ["a"], "nested": {"k": [1]}}).to_json()
    meta = TensorMeta.from_json(doc)
    meta.info["class_names"].append("b")
    meta.info["nested"]["k"].append(2)
    assert doc["info"] == {"class_names": ["a"], "nested": {"k": [1]}}
    root = {"format_version": 1, "tensors": {"t": doc}, "info": {"tags": ["x"]}}
    ds_meta = DatasetMeta.from_json(root)
    ds_meta.info["tags"].append("y")
    ds_meta.tensors["t"].info["class_names"].clear()
    assert root["info"] == {"tags": ["x"]} and doc["info"]["class_names"] == ["a"]
