"""Truthful conflicts: when another writer moves the branch before ``commit()`` lands, the error
says where the branch's uncommitted writes went, and the retry it describes never writes them twice."""

from __future__ import annotations

import pytest

import deeplake_nb as dl
from deeplake_nb.errors import VersionConflictError, VersionError


@pytest.fixture
def path(tmp_path):
    ds = dl.empty(str(tmp_path / "ds"))
    ds.create_tensor("x", htype="generic", dtype="int64")
    ds.x.append(0)
    ds.commit("first")
    return str(tmp_path / "ds")


def test_writes_another_writer_committed_are_named_and_not_redone(path):
    a = dl.load(path)
    a.x.append(1)  # outside `with`: published at once
    b = dl.load(path)
    theirs = b.commit("b's commit")
    with pytest.raises(VersionConflictError, match=f"commit {theirs}") as caught:
        a.commit("a's commit")
    text = str(caught.value)
    assert "nothing of this commit() call landed" in text and "do not write it again" in text
    assert "b's commit" in text
    again = dl.load(path)  # the retry the message describes
    assert again.x.numpy().ravel().tolist() == [0, 1]  # the row is there once
    with pytest.raises(VersionError, match="Nothing to commit"):
        again.commit("a's commit")
    assert [c["message"] for c in again.commits] == ["b's commit", "first"]


def test_writes_still_uncommitted_after_another_publish_say_commit_again(path):
    a = dl.load(path)
    a.x.append(1)
    b = dl.load(path)
    b.x.append(2)  # publishes on top of a's row (rewriting its chunks), commits nothing
    with pytest.raises(VersionConflictError, match="still uncommitted there unless a reset") as caught:
        a.commit("a")
    assert "redo only what is missing" in str(caught.value)
    again = dl.load(path)
    landed = again.commit("a")
    assert again.x.numpy().ravel().tolist() == [0, 1, 2]
    assert again.commits[0]["commit"] == landed


def test_a_reset_by_another_writer_says_what_is_gone(path):
    a = dl.load(path)
    a.x.append(1)
    b = dl.load(path)
    b.reset()
    with pytest.raises(VersionConflictError, match="dropped by a reset"):
        a.commit("a")
    assert dl.load(path).x.numpy().ravel().tolist() == [0]


def test_a_publish_that_rewrites_nothing_of_ours_says_commit_again(path):
    a = dl.load(path)
    a.x.append(1)
    b = dl.load(path)
    b.create_tensor("y")  # publishes new keys only; a's objects stay as a left them
    with pytest.raises(VersionConflictError, match="still uncommitted there, with theirs") as caught:
        a.commit("a")
    assert "do not write them again" in str(caught.value)
    again = dl.load(path)
    again.commit("a")
    assert again.x.numpy().ravel().tolist() == [0, 1] and "y" in again.tensors


def test_a_deleted_branch_says_so(path):
    ds = dl.load(path)
    ds.checkout("side", create=True)
    a = dl.load(path + "@side")
    a.x.append(1)
    ds.checkout("main")
    ds.delete_branch("side")
    with pytest.raises(VersionConflictError, match="branch was deleted"):
        a.commit("a")


def test_a_commit_of_part_of_the_writes_says_which_part_landed(path):
    a = dl.load(path)
    a.x.append(1)  # published
    b = dl.load(path)
    theirs = b.commit("b")
    with pytest.raises(VersionConflictError):
        a.create_tensor("y")  # a write made after b's commit: its publish conflicts, its objects stay pending
    with pytest.raises(VersionConflictError, match=f"part of commit {theirs}") as caught:
        a.commit("a")
    assert "did not land" in str(caught.value)
    again = dl.load(path)
    assert again.x.numpy().ravel().tolist() == [0, 1] and "y" not in again.tensors
