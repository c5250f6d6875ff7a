"""Deep Lake v3's version-control contract: merge rules (already merged, deleted and renamed
tensors, force, mismatches, auto commit of the target), pending_commit_id, commits / branches
order, the branch a checked-out head commit reports, "path@version", id prefixes and the ids
we print, reset, read-only errors, log() and diff()'s as_dict layout."""

from __future__ import annotations

import os
import re
import time
from types import SimpleNamespace

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb import errors
from deeplake_nb.util import exceptions as v3
from deeplake_nb.version import Repository, names
from deeplake_nb.version.commits import COMMITS, Commit
from deeplake_nb.version.manifest import MANIFESTS

try:  # the commit graph's short ids come from the widget module (anywidget may be missing)
    from deeplake_nb.ui.commit_graph import short_id
except ImportError:  # pragma: no cover
    short_id = None


def _numbers(tensor: dl.Tensor) -> list:
    return tensor.numpy().tolist()


# -- merge ----------------------------------------------------------------------------------------------
def test_merging_an_already_merged_branch_is_a_no_op(ds_path, capsys):
    ds = dl.empty(ds_path)
    ds.create_tensor("image")
    ds.create_tensor("label")
    ds.extend({"image": [np.full((2, 2), i) for i in range(10)], "label": list(range(10))})
    ds.commit("added 10 images and labels")
    ds.checkout("other", create=True)
    ds.image.extend([np.full((2, 2), i) for i in range(10, 15)])
    for i in range(3, 7):
        ds.label[i] = 2 * i
    head = ds.commit("added 5 more images and changed 4 labels")
    assert ds.merge("main") is None  # main is an ancestor of "other": nothing to do
    assert ds.commit_id == head and not ds.has_head_changes and len(ds.image) == 15
    assert "No merge needed" in capsys.readouterr().out
    ds.checkout("main")
    ds.merge("other")
    expected = [2 * i if i in range(3, 7) else i for i in range(10)]
    assert np.asarray(_numbers(ds.label)).ravel().tolist() == expected and len(ds.image) == 15
    ds.checkout("other")
    merged_back = ds.merge("main")
    assert merged_back == ds.commit_id and np.asarray(_numbers(ds.label)).ravel().tolist() == expected
    assert ds.merge("main") is None and ds.commit_id == merged_back


def test_merging_a_branch_with_uncommitted_changes_commits_them_there_first(ds_path):
    ds = dl.empty(ds_path)
    ds.checkout("alt1", create=True)
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(["a", "b", "c", "d"])  # uncommitted on alt1
    ds.checkout("main")
    ds.checkout("alt2", create=True)
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(["d", "e", "f", "g"])
    ds.merge("alt1")
    assert np.asarray(_numbers(ds.labels)).ravel().tolist() == [0, 1, 2, 3, 4, 5, 6, 0]
    assert ds.labels.info.class_names == ["d", "e", "f", "g", "a", "b", "c"]
    alt1 = dl.load(ds_path, version="alt1")
    assert not alt1.has_head_changes and alt1.commits[0]["message"] == "auto commit before merging into alt2"
    assert ds.commits[0]["parents"][1] == alt1.commit_id


def test_a_tensor_deleted_on_the_target_is_kept_unless_delete_removed_tensors(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("image")
    ds.create_tensor("label")
    ds.extend({"image": [np.full((2, 2), i) for i in range(10)], "label": list(range(10))})
    ds.commit("added 10 images and labels")
    ds.checkout("other", create=True)
    ds.delete_tensor("image")
    ds.label.append(10)
    ds.commit("drop images")
    ds.checkout("main")
    ds.merge("other")
    assert "image" in ds.tensors and _numbers(ds.image[9]) == np.full((2, 2), 9).tolist()
    assert np.asarray(_numbers(ds.label)).ravel().tolist() == list(range(11))
    ds.merge("other", delete_removed_tensors=True)
    assert "image" not in ds.tensors and np.asarray(_numbers(ds.label)).ravel().tolist() == list(range(11))


def test_a_tensor_deleted_here_comes_back_only_when_the_target_changed_it(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("image")
    ds.create_tensor("label")
    ds.extend({"image": [np.full((2, 2), i) for i in range(10)], "label": list(range(10))})
    a = ds.commit("added 10 images and labels")
    ds.delete_tensor("image")
    ds.delete_tensor("label")  # uncommitted on main
    ds.checkout(a)
    ds.checkout("other", create=True)
    assert {"image", "label"} <= set(ds.tensors)
    ds.label.extend(list(range(10, 15)))
    ds.commit("more labels")
    ds.checkout("main")
    assert not ds.tensors
    ds.merge("other")
    assert "image" not in ds.tensors  # unchanged there: stays deleted
    assert np.asarray(_numbers(ds.label)).ravel().tolist() == list(range(15))  # changed there: back


def test_rename_conflicts_are_settled_only_by_force(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("abc")
    ds.abc.append([1, 2, 3])
    ds.commit()
    ds.checkout("alt", create=True)
    ds.rename_tensor("abc", "xyz")
    ds.xyz.append([3, 4, 5])
    ds.commit()
    ds.checkout("main")
    ds.merge("alt")  # no conflict: their rename is applied here
    assert "abc" not in ds.tensors and _numbers(ds.xyz) == [[1, 2, 3], [3, 4, 5]]

    # renamed there onto a name a tensor has here
    ds.create_tensor("red")
    ds.red.append([2, 3, 4])
    ds.commit()
    ds.checkout("alt2", create=True)
    ds.rename_tensor("red", "blue")
    ds.blue.append([1, 0, 0])
    ds.commit()
    ds.checkout("main")
    ds.create_tensor("blue")
    ds.blue.append([0, 0, 1])
    ds.commit()
    head = ds.commit_id
    for resolution in (None, "ours", "theirs"):
        with pytest.raises(v3.MergeConflictError, match="force=True"):
            ds.merge("alt2", conflict_resolution=resolution)
    assert ds.commit_id == head and not ds.has_head_changes
    ds.merge("alt2", force=True)  # the two "blue" merge; "red" stays
    assert _numbers(ds.red) == [[2, 3, 4]] and _numbers(ds.blue) == [[0, 0, 1], [2, 3, 4], [1, 0, 0]]

    # renamed on both sides, differently
    ds.create_tensor("image")
    ds.create_tensor("video")
    ds.extend({"image": [[1, 2, 3]], "video": [[1, 0, 0]]}, skip_ok=True)
    ds.commit()
    ds.checkout("alt3", create=True)
    ds.rename_tensor("image", "images")
    ds.rename_tensor("video", "videos")
    ds.images.append([3, 4, 5])
    ds.videos.append([0, 1, 0])
    ds.commit()
    ds.checkout("main")
    ds.rename_tensor("image", "cat_images")
    ds.rename_tensor("video", "sample_videos")
    ds.cat_images.append([5, 6, 7])
    ds.sample_videos.append([7, 8, 9])
    ds.commit()
    with pytest.raises(errors.MergeConflictError, match="renamed to 'cat_images' here and to 'images' there") as info:
        ds.merge("alt3")
    assert set(info.value.conflicts) == {"images", "videos"}
    ds.checkout("alt3")
    ds.rename_tensor("images", "cat_images")  # the same name on both sides: no conflict for it
    ds.commit()
    ds.checkout("main")
    ds.merge("alt3", force=True)  # "videos" comes over as a new tensor, "sample_videos" stays
    assert "image" not in ds.tensors and "images" not in ds.tensors
    assert _numbers(ds.cat_images) == [[1, 2, 3], [5, 6, 7], [3, 4, 5]]
    assert _numbers(ds.videos) == [[1, 0, 0], [0, 1, 0]] and _numbers(ds.sample_videos) == [[1, 0, 0], [7, 8, 9]]

    # renamed there, deleted here
    ds.create_tensor("t1")
    ds.t1.append([1, 2, 3])
    ds.commit()
    ds.checkout("alt4", create=True)
    ds.rename_tensor("t1", "t2")
    ds.t2.append([4, 5, 6])
    ds.commit()
    ds.checkout("main")
    ds.delete_tensor("t1")
    ds.commit()
    with pytest.raises(errors.MergeConflictError, match="renamed to 't2' there but deleted here"):
        ds.merge("alt4")
    ds.merge("alt4", force=True)
    assert "t1" not in ds.tensors and _numbers(ds.t2) == [[1, 2, 3], [4, 5, 6]]


def test_tensors_of_one_name_that_differ_cannot_merge(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("image")
    ds.checkout("alt", create=True)
    ds.create_tensor("xyz", htype="bbox")
    ds.checkout("main")
    ds.create_tensor("xyz", htype="class_label")
    with pytest.raises(v3.MergeMismatchError, match="'xyz' cannot merge.*htype 'class_label' here, 'bbox' there"):
        ds.merge("alt", force=True)
    assert ds.xyz.htype == "class_label" and ds.has_head_changes  # nothing changed here
    with pytest.raises(errors.VersionArgumentError, match="conflict_resolution"):
        ds.merge("alt", conflict_resolution="mine")
    assert issubclass(errors.VersionArgumentError, ValueError)


# -- pending_commit_id, commits, branches -----------------------------------------------------------------
def test_pending_commit_id_is_the_id_the_next_commit_gets(ds_path):
    ds = dl.empty(ds_path)
    first = ds.pending_commit_id
    assert ds.commit_id != first
    ds.checkout("pqr", create=True)  # auto commit of the new dataset on main
    ds.checkout("main")
    assert ds.commit_id == first and ds.pending_commit_id != first
    second = ds.pending_commit_id
    ds.create_tensor("abc")
    ds.abc.append(1)
    assert dl.load(ds_path).pending_commit_id == second  # stored with the branch, not per session
    assert ds.commit("one") == second and ds.commit_id == second and ds.pending_commit_id not in (first, second)
    # a checked-out commit: pending_commit_id is commit_id
    ds.checkout(first)
    assert ds.pending_commit_id == ds.commit_id == first
    # a branch made at that commit gets its own pending id, which its first commit takes
    ds.checkout("other", create=True)
    pending = ds.pending_commit_id
    ds.create_tensor("abc")
    assert ds.commit("other's first") == pending
    # the pending id of a branch stands for the branch: checkout and load open it, writable
    ds.checkout("main")
    main_pending = ds.pending_commit_id
    ds.checkout(ds.commit_id)
    assert ds.checkout(main_pending) == second and ds.branch == "main" and not ds.read_only
    again = dl.load(f"{ds_path}@{main_pending}")
    assert again.branch == "main" and not again.read_only
    again.abc.append(4)
    assert ds.has_head_changes is False and dl.load(ds_path).has_head_changes  # published on main
    # reset draws a new pending id; a reset with nothing to drop changes nothing
    ds = dl.load(ds_path)
    ds.reset()
    after_reset = ds.pending_commit_id
    assert after_reset != main_pending and _numbers(ds.abc) == [[1]]
    ds.reset()
    assert ds.pending_commit_id == after_reset
    ds.reset(force=True)
    assert ds.pending_commit_id != after_reset


def test_a_commit_whose_pending_id_was_taken_gets_a_fresh_id(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    pending = ds.pending_commit_id
    repo = ds._repo
    # a writer that crashed after writing its commit document, before moving the branch
    repo.commits.write(Commit(id=pending, parents=(ds.commit_id,), message="lost", author="", time=time.time(),
                              manifest=()))
    ds.x.append(1)
    landed = ds.commit("real")
    assert landed != pending and ds.commits[0]["message"] == "real"
    assert dl.load(ds_path, version=landed).x.numpy().ravel().tolist() == [1]


def test_gc_keeps_the_commit_a_live_branch_is_about_to_land(ds_path, monkeypatch):
    long_ago = time.time() - 7200
    monkeypatch.setattr(names, "time", SimpleNamespace(time=lambda: long_ago))
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    pending = ds.pending_commit_id  # drawn two hours "ago"
    monkeypatch.undo()
    repo = ds._repo
    repo.commits.write(Commit(id=pending, parents=(ds.commit_id,), message="in flight", author="", time=time.time(),
                              manifest=()))
    dl.gc(ds_path, grace_seconds=3600)
    assert repo.physical.get(COMMITS + pending) is not None  # still named by main's pending id
    ds.x.append(1)
    ds.commit("moves main on")  # the pending id was taken: a fresh one
    dl.gc(ds_path, grace_seconds=3600)
    assert repo.physical.get(COMMITS + pending) is None  # an orphan now, and old


def test_commits_and_branches_in_v3_order(ds_path):
    ds = dl.empty(ds_path)
    assert ds.commits == [] and ds.branches == ["main"]
    c1 = ds.commit()
    assert [c["commit"] for c in ds.commits] == [c1]
    entry = ds.commits[0]
    assert set(entry) >= {"commit", "author", "time", "message"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", entry["time"])
    assert ds.get_commit_details(c1) == entry
    with pytest.raises(KeyError):
        ds.get_commit_details("0" * 32)
    ds.checkout("zeta", create=True)
    assert len(ds.commits) == 1
    ds.checkout("main")
    ds.create_tensor("xyz")
    ds.checkout("alpha", create=True)  # auto commit on main first
    assert len(ds.commits) == 2
    ds.commit(allow_empty=True)
    assert len(ds.commits) == 3 and ds.commits[2]["commit"] == c1  # newest first
    ds.checkout("main")
    assert len(ds.commits) == 2
    assert ds.branches == ["main", "zeta", "alpha"] == dl.load(ds_path).branches  # creation order
    ds.delete_branch("zeta")
    ds.checkout("zeta", create=True)
    assert ds.branches == ["main", "alpha", "zeta"]


def test_checking_out_a_branch_head_by_commit_id_reports_that_branch(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("abc")
    ds.abc.append(1)
    a = ds.commit("first")
    ds.abc[0] = 2
    b = ds.commit("second")
    ds.abc[0] = 3
    c = ds.commit("third")
    for commit, value in ((a, 1), (b, 2)):
        assert ds.checkout(commit) == commit == ds.commit_id
        assert ds.branch is None and ds.abc[0].numpy().item() == value  # heads no branch
    ds.checkout(c)
    assert ds.commit_id == c and ds.branch == "main" and not ds.read_only and not ds.has_head_changes
    with pytest.raises(errors.BranchExistsError):
        ds.checkout("main", create=True)
    with pytest.raises(v3.CheckoutError):
        ds.checkout(a, create=True)  # a commit id is no branch name
    assert dl.load(ds_path, version=c).branch == "main"


# -- auto checkout -------------------------------------------------------------------------------------------
def test_a_write_on_a_checked_out_commit_goes_to_a_new_auto_branch(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("abc")
    ds.abc.extend([1, 2])
    first = ds.commit("two")
    ds.abc[0] = 5
    second = ds.commit("five")
    ds.checkout(first)
    held = ds.abc  # a tensor taken before the write follows the dataset to the new branch
    with pytest.warns(errors.AutoBranchWarning, match=r"new branch 'auto_[0-9a-f]{40}'") as caught:
        held.append(3)
    auto = ds.branch
    assert re.fullmatch(r"auto_[0-9a-f]{40}", auto) and auto in str(caught[0].message)
    assert ds.branches == ["main", auto] and ds.has_head_changes and ds.commit_id == first
    assert _numbers(held) == [[1], [2], [3]] and _numbers(ds[1:3].abc) == [[2], [3]]
    third = ds.commit("three")
    assert [c["commit"] for c in ds.commits] == [third, first]
    ds.checkout("main")
    assert ds.commit_id == second and _numbers(ds.abc) == [[5], [2]]
    assert _numbers(dl.load(ds_path, version=auto).abc) == [[1], [2], [3]]


def test_auto_branching_inside_with_publishes_at_the_end_and_merges_branch_off_too(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("abc")
    ds.abc.append(1)
    first = ds.commit("one")
    ds.checkout("other", create=True)
    ds.abc.append(2)
    ds.commit("two")
    ds.checkout(first)
    with ds, pytest.warns(errors.AutoBranchWarning):
        ds.abc.append(7)
        ds.create_tensor("new")
        ds.new.append("x")
        auto = ds.branch
    assert _numbers(dl.load(ds_path, version=auto).abc) == [[1], [7]]
    ds.checkout(first)
    with pytest.warns(errors.AutoBranchWarning):
        merged = ds.merge("other")
    assert ds.branch not in ("main", "other", auto) and ds.commit_id == merged
    assert _numbers(ds.abc) == [[1], [2]] and len(ds.branches) == 4


def test_what_cannot_branch_off_leaves_the_checked_out_commit(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("abc")
    ds.abc.append(1)
    first = ds.commit("one")
    ds.abc.append(2)
    ds.commit("two")
    ds.checkout(first)
    for change in (lambda: ds.info.update(a=1), lambda: ds.abc.info.__setitem__("a", 1)):
        with pytest.raises(v3.InfoError, match="Check out a branch") as caught:
            change()  # info changes make no branch (v3: InfoError)
        assert isinstance(caught.value, errors.DetachedHeadError)
    with pytest.raises(v3.EmptyCommitError):
        ds.commit("nothing")
    ds.reset()
    with pytest.raises(errors.CommitNotFoundError):
        ds.merge("no-such-branch")
    assert ds.branches == ["main"] and ds.commit_id == first and not ds.has_head_changes
    ro = dl.load(f"{ds_path}@{first}", read_only=True)
    for write in (lambda: ro.abc.append(3), lambda: ro.create_tensor("y"), lambda: ro.commit("x", allow_empty=True)):
        with pytest.raises(v3.ReadOnlyModeError, match="read_only=False"):
            write()
    assert ro.branches == ["main"] and ro.read_only and _numbers(ro.abc) == [[1]]


# -- addressing versions ------------------------------------------------------------------------------------
def test_load_and_dataset_take_path_at_version(ds_path, tmp_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.x.append(1)
    c1 = ds.commit("one")
    ds.tag("v1")
    ds.checkout("alt", create=True)
    ds.x.append(2)
    for address, values in (("alt", [1, 2]), ("main", [1]), ("v1", [1]), (c1, [1]), (c1[:20], [1]),
                            (c1[12:20], [1])):
        for opened in (dl.load(f"{ds_path}@{address}"), dl.dataset(f"{ds_path}@{address}")):
            assert opened.x.numpy().ravel().tolist() == values and not opened.read_only
    assert dl.load(f"{ds_path}@alt", read_only=True).read_only
    assert dl.load(f"{ds_path}@alt", version="alt").branch == "alt"
    with pytest.raises(errors.VersionArgumentError, match="give one of them"):
        dl.load(f"{ds_path}@alt", version="main")
    with pytest.raises(v3.CheckoutError, match="not a branch, tag or commit id"):
        dl.load(f"{ds_path}@nope")
    with pytest.raises(ValueError, match="cannot create a dataset at version"):
        dl.dataset(str(tmp_path / "new") + "@main")
    assert not (tmp_path / "new").exists()
    # dl.empty, dl.exists and dl.delete act on whole datasets: a version in the path is refused (v3)
    for call in (dl.empty, dl.exists, dl.delete):
        with pytest.raises(ValueError, match="without a version"):
            call(f"{ds_path}@main")
    assert not (tmp_path / "new").exists() and dl.exists(ds_path)
    odd = tmp_path / "with@sign"  # an existing directory whose name has '@' is a path
    dl.empty(str(tmp_path / "plain")).create_tensor("y")  # (new datasets take v3's names, without '@')
    os.rename(tmp_path / "plain", odd)
    assert "y" in dl.load(str(odd)).tensors and dl.exists(str(odd))


def test_every_id_we_print_and_unique_prefixes_are_accepted(ds_path, capsys, monkeypatch):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.x.append(1)
    c1 = ds.commit("one")
    ds.x.append(2)
    c2 = ds.commit("two")
    ds.log()
    printed = re.findall(r"Commit : ([0-9a-f]+)", capsys.readouterr().out)
    assert printed == [c2, c1]
    for ident in [*printed, c1[:20], c2[:24], c1[12:20]] + ([short_id(c1)] if short_id else []):
        expected = c1 if c1.startswith(ident) or c1[12:].startswith(ident) else c2
        assert ds.checkout(ident) == expected
        assert dl.load(ds_path, version=ident).commit_id == expected
        assert ds.get_commit_details(ident)["commit"] == expected
    ds.checkout("main")
    assert ds.diff(c1[12:20], c2[:20], as_dict=True)["tensor"][1][0]["commit_id"] == c2
    with pytest.raises(errors.CommitNotFoundError):
        ds.checkout(c1[:7])  # too short to be an id prefix
    # ids made in the same millisecond share their first 12 digits: a short prefix is ambiguous
    now = time.time()
    monkeypatch.setattr(names, "time", SimpleNamespace(time=lambda: now))
    ds.x.append(3)
    ds.commit("three")  # its id was drawn before: the next two are drawn now
    ds.x.append(4)
    c3 = ds.commit("four")
    ds.x.append(5)
    c4 = ds.commit("five")
    assert c3[:12] == c4[:12]
    with pytest.raises(errors.CommitNotFoundError, match="start of .* commit ids .* give more characters"):
        ds.checkout(c3[:9])
    with pytest.raises(KeyError):
        dl.load(ds_path, version=c3[:9])
    assert ds.checkout(c3[:12] + c3[12:16]) == c3


# -- reset, read-only ---------------------------------------------------------------------------------------
def _damage_working_area(path: str, branch: str) -> None:
    """Delete the manifest delta that holds ``branch``'s uncommitted changes."""
    repo = Repository(dl.load(path)._repo.store)
    state = repo.branch_states()[branch]
    committed = set(repo.commits.get(state.head).manifest)
    (level,) = [level for level in state.stack if level not in committed]
    repo.physical.delete(MANIFESTS + level[0])


def test_reset_true_recovers_a_branch_whose_uncommitted_state_cannot_be_read(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("abc")
    ds.abc.append(1)
    ds.commit()
    ds.abc.append(2)
    second = ds.commit()
    ds.checkout("alt", create=True)
    ds.abc.append(3)  # uncommitted on alt
    saved = ds.pending_commit_id
    ds.checkout("main")
    ds.abc.append(9)  # uncommitted on main
    _damage_working_area(ds_path, "alt")
    with pytest.raises(errors.VersionError, match="missing"):
        ds.checkout("alt")
    assert ds.branch == "main" and _numbers(ds.abc)[-1] == [9]  # still where it was
    ds.checkout("alt", reset=True)
    assert ds.branch == "alt" and ds.commit_id == second and ds.pending_commit_id != saved
    assert _numbers(ds.abc) == [[1], [2]]
    _damage_working_area(ds_path, "main")
    with pytest.raises(errors.VersionError, match="reset=True"):
        dl.load(ds_path).abc.numpy()  # the manifest is read when first needed
    with pytest.raises(v3.ReadOnlyModeError):
        dl.load(ds_path, read_only=True, reset=True)
    ds = dl.load(ds_path, reset=True)
    assert ds.branch == "main" and ds.commit_id == second and _numbers(ds.abc) == [[1], [2]]
    assert dl.load(f"{ds_path}@main", reset=True).commit_id == second  # nothing to reset: a plain load


def test_tag_delete_branch_and_new_branches_on_a_read_only_dataset_raise_read_only_error(ds_path):
    ds = dl.empty(ds_path)
    ds.commit("first")
    ds.checkout("alt", create=True)
    ds.checkout("main")
    ro = dl.load(ds_path, read_only=True)
    for action in (lambda: ro.tag("v1"), lambda: ro.delete_branch("alt"), lambda: ro.checkout("new", create=True),
                   lambda: ro.commit("x", allow_empty=True), lambda: ro.reset(force=True)):
        with pytest.raises(errors.ReadOnlyError, match="read-only"):
            action()
    assert ro.branches == ["main", "alt"] and ro.version_tags == {}
    ro.checkout("alt")
    assert ro.branch == "alt" and ro.read_only  # checkouts of a read-only dataset stay read-only


# -- log and diff ------------------------------------------------------------------------------------------
def test_log_lists_the_branch_state_and_commits_newest_first(ds_path, capsys):
    ds = dl.empty(ds_path)
    ds.create_tensor("abc")
    ds.abc.append(1)
    a = ds.commit("first")
    ds.abc.append(2)
    ds.log()
    out = capsys.readouterr().out
    assert out.startswith("---------------\nDeep Lake Version Log\n---------------\n\nCurrent Branch: main\n")
    assert "** There are uncommitted changes on this branch." in out
    assert re.findall(r"Commit : (\w+)", out) == [a] and "Message: first" in out  # no root commit
    ds.checkout(a)
    ds.log()
    out = capsys.readouterr().out
    assert "Current Branch: main" in out and "uncommitted" not in out


def test_diff_as_dict_has_v3_layout(ds_path, capsys):
    ds = dl.empty(ds_path)
    with ds:
        ds.create_tensor("xyz")
        ds.xyz.extend([1, 2, 3])
        ds.create_tensor("pqr")
        ds.pqr.extend([4, 5, 6])
    a = ds.commit()
    pending = ds.pending_commit_id
    with ds:
        ds.xyz[0] = 10
        ds.xyz.info.update(hello="world")
        ds.pqr[2] = 20
        ds.create_tensor("abc")
        ds.abc.extend([1, 2, 3])
        ds.info.update(note="n")
    d = ds.diff(as_dict=True)
    assert set(d) == {"tensor", "dataset"}
    (t,), (meta,) = d["tensor"], d["dataset"]
    default = {"created": False, "cleared": False, "info_updated": False, "data_added": [0, 0],
               "data_updated": set(), "data_deleted": set(), "data_transformed_in_place": False}
    assert t == {"commit_id": pending, "xyz": {**default, "data_updated": {0}, "info_updated": True},
                 "pqr": {**default, "data_updated": {2}}, "abc": {**default, "created": True, "data_added": [0, 3]}}
    assert meta == {"commit_id": pending, "author": None, "message": None, "date": None, "info_updated": True,
                    "renamed": {}, "deleted": []}
    b = ds.commit("second")
    assert b == pending
    entry_b = {**t, "commit_id": b}
    (after,) = ds.diff(as_dict=True)["tensor"]  # nothing new since b
    assert after == {"commit_id": ds.pending_commit_id, "xyz": default, "pqr": default, "abc": default}
    tensor_sides = ds.diff(a, as_dict=True)["tensor"]
    assert tensor_sides[1] == [] and tensor_sides[0][1:] == [entry_b]
    assert ds.diff(a, b, as_dict=True)["tensor"] == ([], [entry_b])
    assert ds.diff(b, a, as_dict=True)["tensor"] == ([entry_b], [])
    dataset_sides = ds.diff(a, b, as_dict=True)["dataset"]
    assert dataset_sides[0] == [] and dataset_sides[1][0]["message"] == "second"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", dataset_sides[1][0]["date"])
    ds.checkout(b)  # a checked-out commit: its own changes
    assert ds.diff(as_dict=True)["tensor"] == [entry_b]
    ds.diff()
    out = capsys.readouterr().out
    assert f"Diff in {b} (current commit) relative to the previous commit:" in out
    assert "xyz\n* Updated 1 sample: [0]\n* Updated tensor info\n" in out and "- Updated dataset info" in out
    # renames, deletions and a cleared tensor
    ds.checkout("main")
    ds.rename_tensor("xyz", "uvw")
    ds.delete_tensor("pqr")
    ds.abc.clear()
    ds.abc.append(7)
    (t,), (meta,) = ds.diff(as_dict=True).values()
    assert set(t) == {"commit_id", "uvw", "abc"} and t["uvw"] == default
    assert t["abc"] == {**default, "cleared": True, "data_added": [0, 1]}
    assert meta["renamed"] == {"xyz": "uvw"} and meta["deleted"] == ["pqr"]
    with pytest.raises(ValueError, match="needs id_1"):
        ds.diff(id_2=a)
    with pytest.raises(KeyError):
        ds.diff("12345", "5678")


def test_diff_between_branches_goes_back_to_their_common_ancestor(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("xyz")
    ds.xyz.extend([1, 2, 3])
    a = ds.commit()
    ds.checkout("alt", create=True)
    ds.xyz.extend([4, 5, 6])
    b = ds.commit()
    ds.checkout("main")
    ds.xyz[1] = 10
    c = ds.commit()
    tensors = ds.diff(b, c, as_dict=True)["tensor"]
    assert [e["commit_id"] for e in tensors[0]] == [b] and tensors[0][0]["xyz"]["data_added"] == [3, 6]
    assert [e["commit_id"] for e in tensors[1]] == [c] and tensors[1][0]["xyz"]["data_updated"] == {1}
    reverse = ds.diff(c, b, as_dict=True)["tensor"]
    assert reverse == tensors[::-1]
    assert ds.diff(a, a, as_dict=True)["tensor"] == ([], [])
    # one id: the current state's side starts with its (uncommitted) head
    ds.xyz.append(7)
    here, there = ds.diff("alt", as_dict=True)["tensor"]
    assert [e["commit_id"] for e in here] == [ds.pending_commit_id, c] and here[0]["xyz"]["data_added"] == [3, 4]
    assert [e["commit_id"] for e in there] == [dl.load(ds_path, version="alt").pending_commit_id, b]


def test_diff_follows_tensors_through_renames_that_swap_or_reuse_names(ds_path):
    ds = dl.empty(ds_path)
    with ds:
        ds.create_tensor("abc")
        ds.abc.append([1, 2, 3])
        ds.create_tensor("xyz")
        ds.create_tensor("red")
    ds.commit()
    with ds:
        ds.xyz.append([3, 4, 5])
        ds.rename_tensor("xyz", "efg")  # efg is the empty tensor that was xyz
        ds.rename_tensor("abc", "xyz")  # xyz is now the one with a sample
        ds.xyz[0] = [2, 3, 4]
        ds.rename_tensor("red", "tmp")
        ds.create_tensor("red")  # a new tensor under a name another one left
    (t,), (meta,) = ds.diff(as_dict=True).values()
    assert meta["renamed"] == {"abc": "xyz", "xyz": "efg", "red": "tmp"} and meta["deleted"] == []
    assert t["efg"]["data_added"] == [0, 1] and not t["efg"]["created"]
    assert t["xyz"]["data_updated"] == {0} and t["xyz"]["data_added"] == [0, 0]
    assert t["red"]["created"] and not t["tmp"]["created"]
    changes = ds._sample_changes(ds.commit_id, ds.pending_commit_id)
    assert changes["xyz"]["renamed_from"] == "abc" and changes["efg"]["renamed_from"] == "xyz"
    assert changes["red"]["created"] and changes["tmp"]["renamed_from"] == "red"
    # deleting a tensor and renaming another onto its name
    ds.commit()
    ds.delete_tensor("xyz")
    ds.rename_tensor("efg", "xyz")
    (t,), (meta,) = ds.diff(as_dict=True).values()
    assert meta["renamed"] == {"efg": "xyz"} and meta["deleted"] == ["xyz"]
    assert t["xyz"] == {"created": False, "cleared": False, "info_updated": False, "data_added": [0, 0],
                        "data_updated": set(), "data_deleted": set(), "data_transformed_in_place": False}


def test_modified_samples_since_the_previous_commit_or_an_ancestor(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    ds.x.extend(np.arange(5))
    view, indexes = ds.x.modified_samples(return_indexes=True)
    assert indexes == [0, 1, 2, 3, 4] and _numbers(view) == [[0], [1], [2], [3], [4]]  # created since: all rows
    first = ds.commit()
    assert ds.x.modified_samples(return_indexes=True)[1] == [] and len(ds.x.modified_samples()) == 0
    ds.x.extend([5, 6])
    ds.x[2] = -1
    assert ds.x.modified_samples(return_indexes=True)[1] == [2, 5, 6]
    assert ds.x[3:].modified_samples(return_indexes=True)[1] == [2, 3]  # indices within the selection
    ds.rename_tensor("x", "y")  # followed through the rename
    ds.pop(0)  # positions are the current ones
    second = ds.commit()
    assert ds.y.modified_samples(return_indexes=True)[1] == []
    view, indexes = ds.y.modified_samples(first, return_indexes=True)
    assert indexes == [1, 4, 5] and _numbers(view) == [[-1], [5], [6]]
    ds.checkout(second)  # a checked-out commit: its own changes against its parent
    assert ds.y.modified_samples(return_indexes=True)[1] == [1, 4, 5]
    ds.checkout(first)
    ds.checkout("alt", create=True)
    alt = ds.commit(allow_empty=True)
    ds.checkout("main")
    with pytest.raises(v3.TensorModifiedError, match="not an ancestor"):
        ds.y.modified_samples(alt)


# -- pop ------------------------------------------------------------------------------------------------------
def test_pop_counts_rows_over_the_longest_tensor_and_refuses_repeated_indices(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("images")
    ds.create_tensor("labels")
    with pytest.raises(IndexError, match="empty dataset"):
        ds.pop()
    with pytest.raises(IndexError, match="empty tensor"):
        ds.labels.pop()
    ds.images.extend(np.arange(8))
    ds.labels.extend(np.arange(4))
    ds.pop(5)  # only the tensors that have a row 5 lose it
    assert _numbers(ds.images) == [[0], [1], [2], [3], [4], [6], [7]] and len(ds.labels) == 4
    ds.pop()  # the last row of the longest tensor
    assert len(ds.images) == 6 and len(ds.labels) == 4
    ds.pop([0, 2])
    assert _numbers(ds.images) == [[1], [3], [4], [6]] and _numbers(ds.labels) == [[1], [3]]
    for pop in (ds.pop, ds.images.pop):
        with pytest.raises(ValueError, match="more than once"):
            pop([0, 1, 0])
        with pytest.raises(IndexError):
            pop(4)
    assert _numbers(ds.images) == [[1], [3], [4], [6]] and _numbers(ds.labels) == [[1], [3]]  # unchanged
    ds.commit()
    ds.pop(3)
    (t,), _ = ds.diff(as_dict=True).values()
    assert t["images"]["data_deleted"] == {3} and t["labels"]["data_deleted"] == set()


def test_delete_branch_errors_use_v3_wording(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("x")
    with pytest.raises(v3.VersionControlError, match="Cannot delete the currently checked out branch: main"):
        ds.delete_branch("main")
    with pytest.raises(v3.VersionControlError, match="Branch invalid_branch does not exist"):
        ds.delete_branch("invalid_branch")
    ds.checkout("alt", create=True)
    with pytest.raises(v3.VersionControlError, match="Cannot delete the currently checked out branch: alt"):
        ds.delete_branch("alt")
    with pytest.raises(v3.VersionControlError, match="Cannot delete the main branch"):
        ds.delete_branch("main")
    ds.checkout("main")
    ds.delete_branch("alt")
    assert ds.branches == ["main"]


def test_a_tensor_keeps_its_identity_through_writes_clears_commits_and_renames(ds_path):
    """diff follows tensors by the object of their group document: nothing may rewrite it."""
    from deeplake_nb.core.diff import tensor_identity

    ds = dl.empty(ds_path)
    ds.create_tensor("g/x")
    ds.create_tensor("y", htype="class_label", class_names=["a"])
    ids = {key: tensor_identity(ds, key) for key in ("g/x", "y")}
    assert None not in ids.values() and len(set(ids.values())) == 2
    ds["g/x"].extend([[1, 2], [3]])
    ds["g/x"][0] = [5, 5, 5]
    ds["g/x"].info["note"] = "n"
    ds.y.extend(["a", "b"])
    ds["g/x"].clear()
    ds["g/x"].append([1])
    ds.commit()
    ds.checkout("alt", create=True)
    ds.rename_group("g", "h")
    ds.rename_tensor("h/x", "z")
    ds.rename_tensor("y", "h/y")
    assert tensor_identity(ds, "z") == ids["g/x"] and tensor_identity(ds, "h/y") == ids["y"]
    assert tensor_identity(dl.load(ds_path, version="main"), "g/x") == ids["g/x"]
    ds.delete_tensor("z")
    ds.create_tensor("z")
    assert tensor_identity(ds, "z") not in ids.values()  # a new tensor under an old name is another tensor


def test_a_deleted_tensor_they_changed_cannot_come_back_under_a_name_now_taken(ds_path):
    ds = dl.empty(ds_path)
    ds.create_tensor("b")
    ds.create_tensor("m")
    ds.b.append(1)
    ds.m.append(2)
    ds.commit()
    ds.checkout("other", create=True)
    ds.b.append(3)
    ds.commit()
    ds.checkout("main")
    ds.delete_tensor("b")
    ds.rename_tensor("m", "b")
    head = ds.commit()
    with pytest.raises(errors.MergeConflictError, match="another tensor took its name"):
        ds.merge("other")
    assert ds.commit_id == head and _numbers(ds.b) == [[2]]
