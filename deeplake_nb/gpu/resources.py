"""Find the CUDA sources the package ships (``kernels/``; the widget files are found by
``deeplake_nb.ui.assets``).

In a wheel they sit inside the package as ``deeplake_nb/_kernels`` (hatchling ``force-include``
in pyproject.toml); in a source checkout (also an editable install) they are the top-level
``kernels/`` folder beside the package. The installed copy wins when both exist.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from ..errors import KernelSourceNotFoundError

PACKAGE = "deeplake_nb"


def kernels_dir() -> Path:
    """Folder of the ``.cu`` sources; KernelSourceNotFoundError when neither copy exists."""
    package_root = importlib.resources.files(PACKAGE)
    installed = package_root / "_kernels"
    if installed.is_dir():
        return Path(str(installed))
    checkout = Path(str(package_root)).parent / "kernels"
    if checkout.is_dir():
        return checkout
    raise KernelSourceNotFoundError(
        f"The kernels/ files are missing: looked in {installed} (wheel) and {checkout} (checkout). "
        "Reinstall deeplake_nb from a wheel or a full source checkout.")


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
