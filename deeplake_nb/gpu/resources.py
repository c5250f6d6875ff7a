"""Find the non-Python files the package ships: CUDA sources (``kernels/``) and widget modules
(``widgets/``).

In a wheel they sit inside the package as ``deeplake_nb/_kernels`` and ``deeplake_nb/_widgets``
(hatchling ``force-include`` in pyproject.toml); in a source checkout (also an editable
install) they are the top-level ``kernels/`` and ``widgets/`` folders beside the package. The
installed copy wins when both exist.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from ..errors import KernelSourceNotFoundError

PACKAGE = "deeplake_nb"
_SHIPPED = {"kernels": "_kernels", "widgets": "_widgets"}


def shipped_dir(kind: str) -> Path:
    """The folder holding the shipped ``kind`` files (``"kernels"`` or ``"widgets"``).

    Raises ``KernelSourceNotFoundError`` when neither the installed nor the checkout copy exists.
    """
    if kind not in _SHIPPED:
        raise ValueError(f"kind must be one of {sorted(_SHIPPED)}; got {kind!r}.")
    package_root = importlib.resources.files(PACKAGE)
    installed = package_root / _SHIPPED[kind]
    if installed.is_dir():
        return Path(str(installed))
    checkout = Path(str(package_root)).parent / kind
    if checkout.is_dir():
        return checkout
    raise KernelSourceNotFoundError(
        f"The {kind}/ files are missing: looked in {installed} (wheel) and {checkout} (checkout). "
        "Reinstall deeplake_nb from a wheel or a full source checkout.")


def kernels_dir() -> Path:
    """Folder of the ``.cu`` sources."""
    return shipped_dir("kernels")


def widgets_dir() -> Path:
    """Folder of the widget ES modules and CSS."""
    return shipped_dir("widgets")


def kernel_path(name: str) -> Path:
    """Path of one CUDA source, e.g. ``kernel_path("normalize.cu")``."""
    path = kernels_dir() / name
    if not path.is_file():
        available = sorted(p.name for p in kernels_dir().glob("*.cu"))
        raise KernelSourceNotFoundError(f"No CUDA source {name!r} in {path.parent}; available: {available}.")
    return path


def kernel_source(name: str) -> str:
    """The text of one CUDA source from ``kernels/``."""
    return kernel_path(name).read_text(encoding="utf-8")
