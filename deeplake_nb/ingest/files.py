"""Source files of an ingest: a folder (local, or on an object store through ``remote``) listed and read,
single files (annotations, class names), image formats, and image files read in parts (ahead on threads
from an object store).

Files in a folder are named by their relative POSIX path (``cat/1.jpg``). Image files are
recognised by extension (``.jpg``/``.jpeg``, ``.png``, ``.webp``, any case); hidden files and
folders (``.name``) are skipped. Every error names the file or folder.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import IngestionError, IngestionSourceNotFoundError, UnsupportedFeatureError
from ..format.compression import SAMPLE_COMPRESSIONS
from ..format.sample import Sample
from ..storage import is_remote

IMAGE_EXTENSIONS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
assert set(IMAGE_EXTENSIONS.values()) <= set(SAMPLE_COMPRESSIONS)


class Folder:
    """A local source folder. ``remote.RemoteFolder`` has the same methods for object stores."""

    def __init__(self, path: Path) -> None:
        self.root = path
        self._base = os.fspath(path)  # files are named by joining strings: pathlib costs ~30 us a file

    @property
    def name(self) -> str:
        """The folder's own name."""
        return self.root.resolve().name

    def where(self, rel: str = "") -> str:
        """A file's (or the folder's) path, for messages and links."""
        return os.path.join(self._base, rel) if rel else self._base

    def files(self) -> list[str]:
        """Every file under the folder (relative POSIX paths, sorted), hidden ones left out."""
        found = []
        for here, dirs, names in os.walk(self._base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = os.path.relpath(here, self._base)
            prefix = "" if rel == os.curdir else rel.replace(os.sep, "/") + "/"
            found += [prefix + name for name in names if not name.startswith(".")]
        return sorted(found)

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def read(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except OSError as exc:
            raise IngestionError(f"Could not read {self.where(rel)!r}: {exc}. Check the file.") from exc

    def samples(self, rels: list[str], pool: ThreadPoolExecutor | None) -> list[Sample]:
        """``dl.read`` samples of image files (read on ``pool``'s threads when given, else when
        first used)."""
        samples = [Sample(os.path.join(self._base, rel)) for rel in rels]
        if pool is not None:
            list(pool.map(_read_quietly, samples))
        return samples


def folder(path: Any, what: str, creds: dict[str, Any] | None = None) -> Any:
    """``path`` as a Folder (an ``s3://``, ``gs://``, ``az://`` URL: a ``remote.RemoteFolder`` read with ``creds``);
    IngestionSourceNotFoundError when it is not an existing folder."""
    text = _path_text(path, what, "folder")
    if is_remote(text):
        from .remote import RemoteFolder

        return RemoteFolder(text, creds, what)
    _refuse_other_schemes(text, what)
    found = Path(text).expanduser()
    if not found.is_dir():
        raise IngestionSourceNotFoundError(f"The {what} {text!r} is not a folder; pass the path of an existing folder.")
    return Folder(found)


def read_file(path: Any, what: str, creds: dict[str, Any] | None = None) -> tuple[bytes, str]:
    """The bytes of a single file (local, or on an object store, read with ``creds``) and its name for messages."""
    text = _path_text(path, what, "file")
    if is_remote(text):
        from .remote import read_object

        return read_object(text, creds, what), text
    _refuse_other_schemes(text, what)
    found = Path(text).expanduser()
    if not found.is_file():
        raise IngestionSourceNotFoundError(f"The {what} {text!r} does not exist; pass the path of an existing file.")
    return Folder(found.parent).read(found.name), os.fspath(found)


def read_text(path: Any, what: str, creds: dict[str, Any] | None = None) -> tuple[str, str]:
    """A UTF-8 text file's content and its name; IngestionError naming it when it is not UTF-8."""
    data, name = read_file(path, what, creds)
    return decode(data, name), name


def decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestionError(f"{name!r} is not UTF-8 text ({exc}); check the file.") from exc


def _path_text(path: Any, what: str, kind: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise IngestionError(f"The {what} must be a {kind} path (str or pathlib.Path); got {type(path).__name__}.")
    return os.fspath(path)


def _refuse_other_schemes(text: str, what: str) -> None:
    if "://" in text and not text.startswith("file://"):
        raise UnsupportedFeatureError(f"The {what} {text!r} is on a storage ingests do not read; local paths and "
                                      "s3://, gs://, az:// URLs are read (download it first).")


def image_compression(path: str) -> str | None:
    """The sample compression a file's extension names (None: not an image file)."""
    return IMAGE_EXTENSIONS.get(os.path.splitext(str(path))[1].lower())


def images(paths: Iterable[str]) -> list[str]:
    """The image files among ``paths``."""
    return [p for p in paths if image_compression(p)]


def most_common_compression(paths: Iterable[str], where: Any) -> str:
    """The sample compression of most of the image files ``paths`` (ties: the first seen);
    IngestionSourceNotFoundError when there are none."""
    counts = Counter(c for c in map(image_compression, paths) if c is not None)
    if not counts:
        raise IngestionSourceNotFoundError(f"No image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) in "
                                           f"{os.fspath(where)!r}; check the path.")
    return counts.most_common(1)[0][0]


def read_parts(root: Any, parts: Iterable[list[str]], num_workers: int) -> Iterator[list[Sample]]:
    """``root.samples(part)`` for each of ``parts``, in order, with their files read.

    A local folder read with ``num_workers`` <= 1 is read on the calling thread, a part when the
    caller asks for it: a reader thread beside the thread that stores the files makes the ingest
    slower, not faster (a 5,000-JPEG ImageFolder 0.30 -> 0.26 s without it, benchmarks/RESULTS.md):
    each file read is four system calls, each giving the GIL up and waiting for it again behind
    the storing thread, and two threads touching fresh memory in one process make the kernel
    shoot down each other's TLB entries. An object store's files (latency to hide), or a folder
    read with ``num_workers`` > 1, are read a part ahead of the caller on a background thread,
    each file on one of ``num_workers`` threads when there are two or more; at most two parts'
    bytes are held at once then. A file that cannot be read fails, naming itself, where the
    caller uses it."""
    if isinstance(root, Folder) and num_workers <= 1:
        for part in parts:
            yield _read_part(root, part, None)
        return
    files_pool = ThreadPoolExecutor(num_workers, thread_name_prefix="ingest-read") if num_workers > 1 else None
    ahead = ThreadPoolExecutor(1, thread_name_prefix="ingest-read-ahead")
    try:
        pending: Future[list[Sample]] | None = None
        for part in parts:
            future = ahead.submit(_read_part, root, part, files_pool)
            if pending is not None:
                yield pending.result()
            pending = future
        if pending is not None:
            yield pending.result()
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)
        if files_pool is not None:
            files_pool.shutdown(wait=True, cancel_futures=True)


def _read_part(root: Any, part: list[str], pool: ThreadPoolExecutor | None) -> list[Sample]:
    samples = root.samples(part, pool)
    if pool is None:  # a local folder's samples are read when first used: here, then
        for sample in samples:
            _read_quietly(sample)
    return samples


def _read_quietly(sample: Sample) -> None:
    try:
        sample.buffer
    except Exception:
        pass  # the sample fails, naming its file, when it is stored
