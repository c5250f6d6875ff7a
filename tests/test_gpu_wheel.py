"""The CUDA sources (``kernels/``) and widget files (``widgets/``) ship inside the wheel and are
found from an installed wheel, not only from a checkout: build the wheel, install it with
``--no-deps`` into a fresh virtualenv and look them up from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = r"""
import json, sys
import deeplake_nb
from deeplake_nb.gpu import resources
from deeplake_nb.ui import assets
kernels, widgets = resources.kernels_dir(), assets.widgets_dir()
print(json.dumps({
    "package": deeplake_nb.__file__,
    "kernels": str(kernels),
    "widgets": str(widgets),
    "cu": {p.name: p.read_text() for p in kernels.glob("*.cu")},
    "widget_files": sorted(p.name for p in widgets.iterdir() if p.is_file()),
    "normalize": resources.kernel_source("normalize.cu"),
}))
"""


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{args[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_kernels_and_widgets_are_found_from_an_installed_wheel(tmp_path):
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(dist), str(ROOT))
    wheel = next(dist.glob("deeplake_nb-*.whl"))
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv))
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel))
    # the wheel's dependencies (zarr, numpy, ...) come from this test's environment, listed as plain
    # path entries: that environment's own .pth files (its editable install of the checkout) are not
    # processed, so only the wheel's copy of deeplake_nb is importable
    site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site / "zz_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    found = json.loads(run(str(python), "-c", CHECK, cwd=tmp_path, env=env).stdout.strip().splitlines()[-1])

    installed = Path(found["package"]).parent
    assert installed.is_relative_to(venv), f"imported {installed}, not the wheel in {venv}"
    assert Path(found["kernels"]) == installed / "_kernels"
    assert Path(found["widgets"]) == installed / "_widgets"
    checkout_cu = {p.name: p.read_text() for p in (ROOT / "kernels").glob("*.cu")}
    assert checkout_cu and found["cu"] == checkout_cu
    assert found["normalize"] == (ROOT / "kernels" / "normalize.cu").read_text()
    checkout_widgets = sorted(p.name for p in (ROOT / "widgets").iterdir() if p.is_file())
    assert found["widget_files"] == checkout_widgets


def test_a_checkout_finds_its_kernels_folder():
    from deeplake_nb.gpu import resources

    if not (ROOT / "kernels").is_dir():
        pytest.skip("not running from a source checkout")
    names = {p.name for p in resources.kernels_dir().glob("*.cu")}
    assert names == {p.name for p in (ROOT / "kernels").glob("*.cu")}
