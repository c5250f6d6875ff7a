"""contains(text, 'needle') searched in the stored heap chunks (``TensorScan.text_contains``):
the same rows as a per-row check of the stored strings, on random data with small chunks
(needles across chunk boundaries, never across row boundaries), empty strings, unicode, case."""

from __future__ import annotations

import numpy as np
import pytest

import deeplake_nb as dl
from deeplake_nb.format import columns
from deeplake_nb.query import evaluate, scan
from deeplake_nb.query.scan import find_all

ALPHABET = ["a", "b", "x", "X", " ", "é", "ß", "中", "🦊", "ab", "ba"]


def rows(view) -> list[int]:
    return view.sample_indices.tolist()


def random_text(rng: np.random.Generator, n: int) -> list[str]:
    return ["".join(rng.choice(ALPHABET, rng.integers(0, 9))) if rng.random() > 0.1 else "" for _ in range(n)]


def text_dataset(path, monkeypatch, parts: list[list[str]], heap_bytes: int, table_rows: int | None = None):
    """A text tensor ``t`` extended with each of ``parts`` in turn, written with heap chunks of
    ``heap_bytes`` (and tables of ``table_rows`` rows), read with the usual sizes."""
    monkeypatch.setattr(columns, "HEAP_CHUNK_BYTES", heap_bytes)
    if table_rows is not None:
        monkeypatch.setattr(columns, "TABLE_CHUNK_BYTES", 16 * table_rows)
    ds = dl.empty(str(path))
    ds.create_tensor("t", htype="text")
    for part in parts:
        ds.t.extend(part)
    return ds


def needles(rng: np.random.Generator, text: list[str]) -> list[str]:
    """Substrings of the data (many across heap chunk boundaries), pieces spanning two rows
    (found only where one row holds them), single characters, case variants, absent ones."""
    joined = "".join(text)
    out = {"x", "X", "é", "中", "🦊", "a", "ab", "ba b", "zz", "xé", "\u00e9\u00e9", " "}
    for _ in range(40):
        i = int(rng.integers(0, max(1, len(joined) - 6)))
        out.add(joined[i: i + int(rng.integers(1, 6))])
    for _ in range(10):  # the end of one row and the start of the next
        r = int(rng.integers(0, len(text) - 1))
        if text[r] and text[r + 1]:
            out.add(text[r][-2:] + text[r + 1][:2])
    out.discard("")
    return sorted(x for x in out if "'" not in x)


def test_find_all_matches_python():
    rng = np.random.default_rng(0)
    for _ in range(200):
        data = bytes(rng.choice(list(b"abx"), int(rng.integers(0, 60))).tolist())
        pattern = bytes(rng.choice(list(b"abx"), int(rng.integers(1, 4))).tolist())
        expected = [i for i in range(len(data) - len(pattern) + 1) if data[i: i + len(pattern)] == pattern]
        for anchor in range(len(pattern)):
            got = find_all(np.frombuffer(data, np.uint8), pattern, anchor)
            assert got.tolist() == expected, (data, pattern, anchor)


@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("batch_bytes", [700, 1 << 22])
def test_contains_in_stored_chunks_matches_per_row(tmp_path, monkeypatch, read_only, batch_bytes):
    rng = np.random.default_rng([5, batch_bytes, read_only])
    text = random_text(rng, 3000)
    ds = text_dataset(tmp_path / "text", monkeypatch, [text[:1000], text[1000:]], 256, 64)  # needles across chunk edges
    monkeypatch.undo()
    monkeypatch.setattr(evaluate, "BATCH_BYTES", batch_bytes)   # batches starting inside heap chunks
    monkeypatch.setattr(scan, "DICTIONARY_RATIO", 0.0)          # no dictionary: always the stored heap
    used = []
    plain = scan.TensorScan.text_contains

    def spy(self, positions, needle):
        found = plain(self, positions, needle)
        used.append(found is not None)
        return found
    monkeypatch.setattr(scan.TensorScan, "text_contains", spy)
    target = dl.load(ds.path, read_only=True) if read_only else ds
    for needle in needles(rng, text):
        expected = [i for i, s in enumerate(text) if needle in s]
        assert rows(target.query(f"SELECT * WHERE contains(t, '{needle}')")) == expected, needle
        assert rows(target.query(f"SELECT * WHERE NOT contains(t, '{needle}') AND len(t) >= 0")) == \
            [i for i, s in enumerate(text) if needle not in s], needle
    # the heap search ran on this append-only data, but for needles whose rarest byte is in most rows
    assert sum(used) > len(used) / 2
    assert rows(target.query("SELECT * WHERE contains(t, '')")) == list(range(len(text)))
    view = target[100:2500]
    assert rows(view.query("SELECT * WHERE contains(t, 'xé')")) == \
        [i for i in range(100, 2500) if "xé" in text[i]]


def test_contains_after_updates_and_with_the_text_read_twice(tmp_path, monkeypatch):
    """Rows rewritten (samples out of row order in the heap): the general path, same answers;
    the text also read by another term of the same condition."""
    rng = np.random.default_rng(9)
    text = random_text(rng, 1500)
    ds = text_dataset(tmp_path / "text", monkeypatch, [text], 256, 64)
    for i in rng.integers(0, len(text), 40).tolist():
        text[i] = f"new {i} xé"
        ds.t[i] = text[i]
    monkeypatch.undo()
    monkeypatch.setattr(evaluate, "BATCH_BYTES", 900)
    for needle in ["x", "xé", "new 1", "ab", "🦊", "zz"]:
        expected = [i for i, s in enumerate(text) if needle in s]
        assert rows(ds.query(f"SELECT * WHERE contains(t, '{needle}')")) == expected, needle
        assert rows(ds.query(f"SELECT * WHERE contains(t, '{needle}') AND t != 'ab'")) == \
            [i for i in expected if text[i] != "ab"], needle


def test_contains_first_and_later_calls_agree_with_dictionary(tmp_path):
    """A read-only dataset of repetitive text: the first call searches the heap, later ones
    the dictionary; all give the same rows."""
    words = ["red fox", "blue box", "", "Fox", "ö x", "lake"]
    text = [words[i % len(words)] for i in range(5000)]
    ds = dl.empty(str(tmp_path / "rep"))
    ds.create_tensor("t", htype="text")
    ds.t.extend(text)
    ro = dl.load(ds.path, read_only=True)
    for needle in ["x", "ox", "Fox", "fox", "ö", "zz"]:
        expected = [i for i, s in enumerate(text) if needle in s]
        for _ in range(3):
            assert rows(ro.query(f"SELECT * WHERE contains(t, '{needle}')")) == expected, needle


def test_text_contains_on_any_range_of_rows(tmp_path, monkeypatch):
    """Ranges starting and ending anywhere (inside heap chunks, near their edges)."""
    rng = np.random.default_rng(11)
    text = random_text(rng, 800)
    ds = text_dataset(tmp_path / "text", monkeypatch, [text], 64, 16)
    monkeypatch.undo()
    monkeypatch.setattr(scan, "SEARCH_SPOTS_PER_ROW", 100.0)  # every needle through the heap search
    reader = scan.TensorScan(ds, "t")
    picked = needles(rng, text)
    ran = 0
    for _ in range(600):
        a = int(rng.integers(0, len(text)))
        b = int(rng.integers(a + 1, len(text) + 1))
        needle = picked[int(rng.integers(0, len(picked)))]
        found = reader.text_contains(range(a, b), needle)
        if found is not None:
            ran += 1
            assert found.tolist() == [needle in s for s in text[a:b]], (a, b, needle)
    assert ran == 600


def test_text_contains_ignores_bytes_before_the_first_row(tmp_path, monkeypatch):
    """A range whose first row starts one byte before a heap chunk edge: a match that would
    begin in the row before it (and cross into the range) is not one of its rows'."""
    ds = text_dataset(tmp_path / "text", monkeypatch, [["abc"] * 60], 64)  # row 21 starts at byte 63
    monkeypatch.undo()
    monkeypatch.setattr(scan, "SEARCH_SPOTS_PER_ROW", 100.0)  # search the heap even for bytes in every row
    reader = scan.TensorScan(ds, "t")
    for needle in ["cab", "ca", "bca", "abc", "c"]:
        for a in (20, 21, 22):
            found = reader.text_contains(range(a, 40), needle)
            assert found is not None and found.tolist() == [needle in "abc"] * (40 - a), (needle, a)


def test_a_chunk_asked_by_two_threads_at_once_is_read_once(tmp_path, monkeypatch):
    import threading
    import time

    ds = dl.empty(str(tmp_path / "text"))
    ds.create_tensor("t", htype="text")
    ds.t.extend(["abc", "def"] * 50)
    reader = scan.TensorScan(dl.load(ds.path, read_only=True), "t").heap
    assert reader is not None and reader.cache is not None
    reads = []
    plain = reader._read_chunk

    def slow(k):
        reads.append(k)
        time.sleep(0.2)
        return plain(k)
    monkeypatch.setattr(reader, "_read_chunk", slow)
    got = []
    threads = [threading.Thread(target=lambda: got.append(reader.chunk(0))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads == [0] and len(got) == 3 and all(g is got[0] for g in got)
    assert bytes(got[0][:6]) == b"abcdef"

    def broken(k):
        time.sleep(0.2)
        raise ValueError("damaged")
    monkeypatch.setattr(reader, "_read_chunk", broken)
    errors = []

    def ask():
        try:
            reader.chunk(1)
        except ValueError as exc:
            errors.append(str(exc))
    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == ["damaged", "damaged"]
