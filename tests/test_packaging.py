"""Packaging: the wheel ships ``py.typed``, and the GPU extras install one CUDA generation each.

Two CuPy packages in one environment (``cupy-cuda12x`` beside ``cupy-cuda13x``) break CuPy, and
DALI built for one CUDA generation does not run with the other's libraries; ``gpu`` is CUDA 12,
``gpu-cu13`` CUDA 13. The rule is checked on ``pyproject.toml`` and on the built wheel's
metadata, which is what pip reads.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
EXTRAS: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
GPU = {"gpu": "12", "gpu-cu13": "13"}  # extra -> the CUDA major version it installs for


def cuda_majors(requirements: list[str]) -> tuple[list[str], set[str]]:
    """The CuPy distributions named, and the CUDA major versions of CuPy and DALI distributions."""
    cupy, majors = [], set()
    for text in requirements:
        name = Requirement(text).name.lower()
        if m := re.fullmatch(r"cupy-cuda(\d+)x", name):
            cupy.append(name)
            majors.add(m.group(1))
        elif m := re.fullmatch(r"nvidia-dali-cuda(\d+)0", name):
            majors.add(m.group(1))
    return cupy, majors


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_no_extra_mixes_cupy_or_cuda_generations(extra):
    cupy, majors = cuda_majors(EXTRAS[extra])
    assert len(cupy) <= 1, f"extra {extra!r} lists {cupy}: two CuPy packages break CuPy"
    assert len(majors) <= 1, f"extra {extra!r} mixes CUDA generations {sorted(majors)}"


@pytest.mark.parametrize("extra", sorted(GPU))
def test_each_gpu_extra_is_dali_and_cupy_of_its_cuda_generation(extra):
    cupy, majors = cuda_majors(EXTRAS[extra])
    names = sorted(Requirement(r).name for r in EXTRAS[extra])
    major = GPU[extra]
    assert cupy == [f"cupy-cuda{major}x"] and majors == {major}
    assert names == sorted([f"cupy-cuda{major}x", f"nvidia-dali-cuda{major}0"])


def test_cuda_major_parsing():
    assert cuda_majors(["cupy-cuda12x>=13", "nvidia-dali-cuda120"]) == (["cupy-cuda12x"], {"12"})
    assert cuda_majors(["CuPy-CUDA13x", "nvidia-dali-cuda120"]) == (["cupy-cuda13x"], {"12", "13"})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return next(out.glob("deeplake_nb-*.whl"))


def test_wheel_ships_py_typed_and_the_gpu_extras(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "deeplake_nb/py.typed" in names
        metadata = Parser().parsestr(zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    assert set(GPU) <= set(metadata.get_all("Provides-Extra"))
    by_extra: dict[str, list[str]] = {}
    for text in metadata.get_all("Requires-Dist"):
        requirement = Requirement(text)
        if requirement.marker is None:
            continue
        for extra in EXTRAS:
            if requirement.marker.evaluate({"extra": extra}):
                by_extra.setdefault(extra, []).append(f"{requirement.name}{requirement.specifier}")
    for extra, major in GPU.items():
        cupy, majors = cuda_majors(by_extra[extra])
        assert cupy == [f"cupy-cuda{major}x"] and majors == {major}, (extra, by_extra[extra])
    for extra, requirements in by_extra.items():
        cupy, majors = cuda_majors(requirements)
        assert len(cupy) <= 1 and len(majors) <= 1, (extra, requirements)
