"""Drive a real JupyterLab from Python: start a server on 127.0.0.1 (random port and token, isolated
config/runtime/workspace folders), open a notebook in the system Chromium through Playwright, run
cells and read their outputs through the JupyterLab application object (exposed with
``LabApp.expose_app_in_browser``).

Used by ``test_browser_widgets.py`` and ``benchmarks/bench_widgets.py``. Nothing here downloads
anything: the browser is the system Chromium (``apt-get install chromium``); never run
``playwright install``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

CHROMIUM = os.environ.get("DEEPLAKE_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
LABEXTENSION = "deeplake-nb"


def missing_prerequisite() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (Debian) "
                "or set DEEPLAKE_NB_CHROMIUM; `make test` does this")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is missing: pip install playwright (never `playwright install`)"
    try:
        import jupyterlab  # noqa: F401
        import anywidget  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is missing: pip install 'deeplake_nb[notebook]'"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def notebook(cells: list[str]) -> dict[str, Any]:
    """A minimal nbformat-4 notebook of code cells, on the python3 kernel."""
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
                       "outputs": [], "source": src} for i, src in enumerate(cells)],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


class LabServer:
    """``jupyter lab`` in a subprocess serving ``root``; ``url`` and ``token`` once started."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root, self.log_path = root, log
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> LabServer:
        home = self.root.parent / "jupyter-home"
        env = dict(os.environ)
        for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
            env[var] = str(home / sub)
            (home / sub).mkdir(parents=True, exist_ok=True)
        # no announcement pop-ups; nothing asks the network
        (home / "config" / "labconfig").mkdir(exist_ok=True)
        (home / "config" / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
             "buildCheck": False, "buildAvailable": False}))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        # the checkout's JupyterLab extension (a wheel installs it in share/jupyter/labextensions)
        extensions = home / "labextensions"
        extensions.mkdir(exist_ok=True)
        if not (extensions / LABEXTENSION).exists():
            (extensions / LABEXTENSION).symlink_to(REPO / "widgets" / "labextension", target_is_directory=True)
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               f"--LabApp.workspaces_dir={home / 'workspaces'}", f"--LabApp.user_settings_dir={home / 'settings'}",
               f"--LabApp.extra_labextensions_path={extensions}", "--ServerApp.terminals_enabled=False",
               "--ServerApp.jpserver_extensions={'jupyter_lsp': False, 'jupyter_server_terminals': False}"]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "log", None):
            self.log.close()


@contextlib.contextmanager
def chromium_page(viewport: tuple[int, int] = (1400, 1000)) -> Iterator[Any]:
    """A fresh Playwright page in the system Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            yield context.new_page()
        finally:
            browser.close()


class NotebookPage:
    """One notebook open in JupyterLab, driven through ``window.jupyterapp``."""

    def __init__(self, page: Any, server: LabServer, name: str) -> None:
        self.page, self.server, self.name = page, server, name

    def open(self, timeout_ms: int = 60_000) -> NotebookPage:
        self.page.goto(f"{self.server.url}/lab/tree/{self.name}?token={self.server.token}")
        self.page.wait_for_function(
            """name => {
                const app = window.jupyterapp;
                const nb = app && app.shell.currentWidget;
                if (!nb || !nb.context || nb.context.path !== name || !nb.content) return false;
                const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
                return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
            }""", arg=self.name, timeout=timeout_ms)
        return self

    def run_cell(self, index: int) -> None:
        """Start running cell ``index``; wait for its output (``wait_output``) or its effect."""
        ok = self.page.evaluate(
            """async i => { const app = window.jupyterapp, nb = app.shell.currentWidget;
                            await nb.sessionContext.ready;
                            nb.content.activeCellIndex = i;
                            nb.content.deselectAll();
                            return app.commands.execute('notebook:run-cell'); }""", index)
        if ok is False:
            raise RuntimeError(f"JupyterLab could not run cell {index} (no kernel?)")

    def wait_output(self, index: int, text: str, timeout_ms: int = 60_000) -> str:
        """Wait until the outputs of cell ``index`` contain ``text`` (or an error); their text."""
        self.page.wait_for_function(
            """([i, text]) => { const outputs = window.jupyterapp.shell.currentWidget.content.widgets[i].model.outputs;
                                const json = JSON.stringify(outputs.toJSON());
                                return json.includes(text) || json.includes('"output_type":"error"'); }""",
            arg=[index, text], timeout=timeout_ms)
        out = self.text_output(index)
        if text not in out:
            raise AssertionError(f"cell {index} failed: {out}")
        return out

    def wait_idle(self, index: int, timeout_ms: int = 60_000) -> None:
        """Wait until cell ``index`` is no longer queued or running and the kernel is idle."""
        self.page.wait_for_function(
            """i => { const nb = window.jupyterapp.shell.currentWidget;
                      const cell = nb.content.widgets[i];
                      return cell.model.executionCount !== null && !cell.promptNode.textContent.includes('*')
                             && nb.sessionContext.session.kernel.status === 'idle'; }""",
            arg=index, timeout=timeout_ms)

    def outputs(self, index: int) -> list[dict[str, Any]]:
        return self.page.evaluate(
            "i => window.jupyterapp.shell.currentWidget.content.widgets[i].model.outputs.toJSON()", index)

    def text_output(self, index: int) -> str:
        parts = []
        for out in self.outputs(index):
            if out.get("output_type") == "stream":
                parts.append(out["text"] if isinstance(out["text"], str) else "".join(out["text"]))
            elif out.get("output_type") == "error":
                parts.append(f"{out['ename']}: {out['evalue']}")
        return "".join(parts)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=False)
        return path


def write_notebook(folder: Path, name: str, cells: list[str]) -> Path:
    path = folder / name
    path.write_text(json.dumps(notebook(cells), indent=1))
    return path


def copy_log(server: LabServer, name: str) -> None:
    """Keep the server log among the test artifacts."""
    ARTIFACTS.mkdir(exist_ok=True)
    with contextlib.suppress(OSError):
        shutil.copy(server.log_path, ARTIFACTS / name)


def skip_module_without_browser() -> None:
    """Skip the calling test module (with the reason) when a browser test's prerequisite is missing."""
    missing = missing_prerequisite()
    if missing:
        import pytest

        pytest.skip(f"browser tests skipped: {missing}", allow_module_level=True)


@contextlib.contextmanager
def notebook_in_lab(tmp_path: Path, name: str, cells: list[str],
                    on_page: Callable[[Any], None] | None = None) -> Iterator[tuple[NotebookPage, list[str]]]:
    """Notebook ``name`` holding ``cells`` open in JupyterLab (started on ``tmp_path / "root"``)
    in a fresh Chromium page: yields the ``NotebookPage`` and the list that collects the page's
    uncaught errors. ``on_page(page)`` runs before the notebook opens (to listen to websockets...).
    The server stops afterwards; its log is kept among the artifacts as ``<name>-lab.log``."""
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root, name, cells)
    server = LabServer(root, tmp_path / "lab.log").start()
    errors: list[str] = []
    try:
        with chromium_page() as page:
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            if on_page is not None:
                on_page(page)
            yield NotebookPage(page, server, name).open(), errors
    finally:
        server.stop()
        copy_log(server, f"{Path(name).stem}-lab.log")
