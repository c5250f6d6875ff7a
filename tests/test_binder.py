"""Binder: the files under ``binder/`` read the way repo2docker reads them, checked against
``pyproject.toml`` and the Makefile.

repo2docker (the builder behind mybinder.org) looks only inside ``binder/`` when the folder
exists. Its Python build pack takes the Python version from ``runtime.txt`` (``python-X.Y``;
without the file it uses its default, 3.10, which our ``requires-python`` refuses), runs
``pip install -r binder/requirements.txt`` from the repository root, before copying the
repository unless a line refers to a local path (``-e .``: then after), and then runs
``binder/postBuild`` if it is executable.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def runtime_python(text: str) -> str | None:
    """The ``X.Y`` Python version a runtime.txt asks for, as repo2docker reads it: the whole file
    stripped must start with ``python-``; the version's first two parts count. None: not Python."""
    runtime = text.strip()
    if not runtime.startswith("python-"):
        return None
    return ".".join(runtime.split("-", 1)[1].split(".")[:2])


def requirement_lines(text: str) -> list[str]:
    """Lines pip reads from a requirements file: comments (``#`` at a line start or after
    whitespace) and blank lines dropped."""
    lines = []
    for raw in text.splitlines():
        line = re.split(r"(^|\s)#", raw, maxsplit=1)[0].strip()
        if line:
            lines.append(line)
    return lines


def is_local(line: str) -> bool:
    """Whether repo2docker takes a requirements line as a reference to a local path (which makes
    it install the requirements only after copying the repository): ``-r``/``-c`` files, or the
    argument of an option (``-e .``, ``--editable=.``) or a bare requirement starting with ``.``
    or naming ``file://``."""
    if line.startswith(("-r", "-c", "--requirement", "--constraint")):
        return True
    if line.startswith("--pre"):
        return False
    if line.startswith("--") and "=" in line:
        line = line.split("=", 1)[1]
    if line.startswith("-"):
        parts = line.split(None, 1)
        if len(parts) < 2:
            return False
        line = parts[1]
    if "file://" in line:
        return True
    return (line.split("://", 1)[1] if "://" in line else line).startswith(".")


def test_runtime_txt_asks_for_a_python_the_package_accepts():
    version = runtime_python((BINDER / "runtime.txt").read_text())
    assert version is not None, "runtime.txt must read python-X.Y, or repo2docker falls back to Python 3.10"
    requires = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert Version(f"{version}.0") in requires, (version, str(requires))
    assert Version("3.10.0") not in requires  # repo2docker's default: why runtime.txt is needed at all
    # repo2docker builds these with its conda-forge lock files (buildpacks/conda/environment.py-X.Y)
    assert version in {"3.11", "3.12", "3.13"}


def test_runtime_parsing_follows_repo2docker():
    assert runtime_python("python-3.11\n") == "3.11"
    assert runtime_python("python-3.12.4") == "3.12"
    assert runtime_python("r-4.3-2024-01-01") is None


def test_requirements_install_the_package_with_extras_that_exist_and_cpu_torch():
    lines = requirement_lines((BINDER / "requirements.txt").read_text())
    local = [line for line in lines if is_local(line)]
    assert len(local) == 1 and local[0].startswith("-e ."), local  # installed after the repository is copied
    extras = set(re.fullmatch(r"-e \.\[([\w,\-]+)\]", local[0]).group(1).split(","))
    declared = set(PYPROJECT["project"]["optional-dependencies"])
    assert extras <= declared, extras - declared
    assert {"notebook", "torch"} <= extras  # Jupyter and the loader the notebooks use
    assert not extras & {"gpu", "gpu-cu13", "dev"}  # Binder has no GPU; dev pulls test servers
    options = [line for line in lines if line.startswith("-") and line not in local]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"], options
    packages = [Requirement(line) for line in lines if not line.startswith("-")]
    assert [str(r) for r in packages] == [make_torch_pin()]  # the Makefile's pin, served as +cpu there


def make_torch_pin() -> str:
    match = re.search(r"^TORCH\s*:=\s*(\S+)\s*$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "Makefile names the torch pin in TORCH :="
    return match.group(1)


def test_local_requirement_detection_follows_repo2docker():
    assert is_local("-e .[torch]") and is_local(".") and is_local("--editable=./sub") and is_local("-r other.txt")
    assert is_local("git+file:///x")
    assert not is_local("--extra-index-url https://download.pytorch.org/whl/cpu")
    assert not is_local("torch==2.13.0") and not is_local("--pre")


def test_post_build_is_an_executable_bash_script_running_a_module_we_ship():
    script = BINDER / "postBuild"
    assert os.access(script, os.X_OK), "repo2docker runs binder/postBuild only if it is executable"
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    commands = [shlex.split(line) for line in text.splitlines() if line and not line.startswith(("#", "set "))]
    assert commands and all(c[:2] == ["python", "-m"] for c in commands), commands
    for command in commands:
        module = command[2]
        assert (ROOT / Path(*module.split("."))).with_suffix("").joinpath("__main__.py").is_file(), module


@pytest.mark.slow
def test_post_build_runs(tmp_path):
    """What repo2docker runs last, in a copy of the repository's working directory layout."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", str(BINDER / "postBuild")], cwd=tmp_path, env=env, check=True, timeout=300,
                   capture_output=True)
    assert (tmp_path / "demo_data").is_dir()
