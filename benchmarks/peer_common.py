"""Helpers shared by the loader peers (``peer_loader_*.py``), which run in other virtualenvs.

Imports only the standard library and NumPy, so any peers virtualenv can load it (the peer scripts
find it next to themselves: a script's own folder is first on ``sys.path``).

- ``import_torch``: the peers virtualenvs hold no torch of their own; when ``import torch`` fails,
  the directories in the environment variable ``PEER_LOADER_TORCH_PATH`` (set by
  ``bench_loader.py`` to the main virtualenv's site-packages) are appended to ``sys.path``, after
  the peer's own packages, and torch is imported from there;
- ``load_transform``: deeplake_nb's ``CropNormalize`` loaded by file path from
  ``deeplake_nb/loader/transforms.py`` (NumPy + Pillow only), the same transform for every system;
- ``cpu_seconds``: user + system CPU time of this process and its finished children (the loader
  workers), the same measure ``bench_loader.py`` takes for in-process systems;
- ``report``: print the one JSON line ``bench_loader.py`` reads (the last line of stdout).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys


def import_torch():
    try:
        import torch
    except ImportError:
        sys.path.extend(p for p in os.environ.get("PEER_LOADER_TORCH_PATH", "").split(os.pathsep) if p)
        import torch
    return torch


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load_transform(path: str, size: int):
    spec = importlib.util.spec_from_file_location("peer_transforms", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CropNormalize(size)


def report(**values) -> None:
    print(json.dumps(values), flush=True)
