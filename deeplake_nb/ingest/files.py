"""Source files of an ingest: listing a folder's images, their compressions, reading text files,
reading image files ahead on threads (``num_workers``).

Image files are recognised by extension (``.jpg``/``.jpeg``, ``.png``, ``.webp``, any case);
hidden files and folders (``.name``) are skipped. Every error names the file or folder.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import IngestionError, IngestionSourceNotFoundError
from ..format.compression import SAMPLE_COMPRESSIONS
from ..format.sample import Sample

IMAGE_EXTENSIONS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
assert set(IMAGE_EXTENSIONS.values()) <= set(SAMPLE_COMPRESSIONS)


def folder(path: Any, what: str) -> Path:
    """``path`` as a Path to an existing folder; IngestionSourceNotFoundError otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise IngestionError(f"The {what} must be a folder path (str or pathlib.Path); got {type(path).__name__}.")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise IngestionSourceNotFoundError(f"The {what} {os.fspath(path)!r} is not a folder; pass the path of an "
                                           "existing folder.")
    return folder


def file(path: Any, what: str) -> Path:
    """``path`` as a Path to an existing file; IngestionSourceNotFoundError otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise IngestionError(f"The {what} must be a file path (str or pathlib.Path); got {type(path).__name__}.")
    found = Path(path).expanduser()
    if not found.is_file():
        raise IngestionSourceNotFoundError(f"The {what} {os.fspath(path)!r} does not exist; pass the path of an "
                                           "existing file.")
    return found


def walk(root: Path, recursive: bool = True) -> list[Path]:
    """The files under ``root`` (relative paths, sorted), hidden ones left out."""
    if not recursive:
        return sorted(Path(p.name) for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    found = []
    for here, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(here).relative_to(root)
        found += [rel / name for name in names if not name.startswith(".")]
    return sorted(found)


def image_compression(path: Path | str) -> str | None:
    """The sample compression a file's extension names (None: not an image file)."""
    return IMAGE_EXTENSIONS.get(os.path.splitext(str(path))[1].lower())


def images(paths: Iterable[Path]) -> list[Path]:
    """The image files among ``paths``."""
    return [p for p in paths if image_compression(p)]


def most_common_compression(paths: Iterable[Path], where: Any) -> str:
    """The sample compression of most of the image files ``paths`` (ties: the first seen);
    IngestionSourceNotFoundError when there are none."""
    counts = Counter(image_compression(p) for p in paths)
    counts.pop(None, None)
    if not counts:
        raise IngestionSourceNotFoundError(f"No image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) in "
                                           f"{os.fspath(where)!r}; check the path.")
    return counts.most_common(1)[0][0]


def read_text(path: Path) -> str:
    """A UTF-8 text file's content; IngestionError naming it when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestionError(f"Could not read {os.fspath(path)!r}: {exc}. Check the file.") from exc


@contextmanager
def readers(num_workers: int) -> Iterator[ThreadPoolExecutor | None]:
    """A pool of ``num_workers`` threads that read files ahead (None for 0)."""
    if num_workers <= 0:
        yield None
        return
    with ThreadPoolExecutor(num_workers, thread_name_prefix="ingest-read") as pool:
        yield pool


def prefetch(samples: Iterable[Any], pool: ThreadPoolExecutor | None) -> None:
    """Read the files behind the ``dl.read`` samples among ``samples`` on ``pool`` (no-op without
    one); a file that fails is left to fail, naming itself, when its sample is stored."""
    if pool is not None:
        list(pool.map(_read_quietly, [s for s in samples if isinstance(s, Sample)]))


def _read_quietly(sample: Sample) -> None:
    try:
        sample.buffer
    except Exception:
        pass
