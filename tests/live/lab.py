"""Drive the notebooks in a real JupyterLab from headless Chromium (``make test-live``, tests/live/test_lab.py).

A student opens a chapter in JupyterLab, runs it and plays with its widgets. This module does the same:

* :func:`prepare_notebooks` writes copies of the chapters with small parameters injected (papermill's
  ``prepare_only``: the ``parameters`` cell is followed by an ``injected-parameters`` cell, nothing runs);
* :func:`jupyter_lab` starts ``jupyter lab`` on 127.0.0.1 at a free port with a random token, in a temporary
  folder, with the book's headless switch (``SEEING_SAYING_STATIC``) removed so that widgets are live, and stops
  it by its PID (the kernels it started too) however the test ends; its log is kept for failure messages;
* :class:`Notebook` opens a notebook, runs every cell with Lab's own menu (Run > Run All Cells), waits for the
  kernel with a bounded timeout, and reads back what the cells printed; widgets are then found and used with
  Selenium as a student would (keys on a slider, a query typed into a box and Enter).

Nothing here reaches the network: the server listens on 127.0.0.1 only, Lab's news feed, update check and
PyPI extension manager are switched off, and Chromium starts with background networking off
(:data:`tests.book.browser.CHROMIUM_FLAGS`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from selenium.common.exceptions import TimeoutException  # noqa: F401  (what a failed wait raises)
from selenium.webdriver.common.keys import Keys  # noqa: F401  (the keys tests press)

ROOT = Path(__file__).resolve().parents[2]
STATIC_ENV = "SEEING_SAYING_STATIC"


# --- notebooks with small parameters ---------------------------------------------------------------------
def prepare_notebooks(specs: dict, folder: Path) -> dict:
    """{name in ``notebooks/``: {parameter: value}} -> {name: path of a copy with those parameters injected}."""
    import papermill

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, parameters in specs.items():
        target = folder / name
        papermill.execute_notebook(
            str(ROOT / "notebooks" / name),
            str(target),
            parameters=parameters,
            prepare_only=True,
            progress_bar=False,
            log_output=False,
        )
        out[name] = target
    return out


def shared_cache(folder: Path) -> Path:
    """A cache folder for the live runs: the book's dataset, features and word vectors (read through links, not
    rebuilt), but its own checkpoints, so the small runs never replace what ``make test`` trained."""
    from helpers.paths import cache_dir

    real = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for entry in real.iterdir():
        if entry.is_dir() and entry.name != "checkpoints":
            (folder / entry.name).symlink_to(entry, target_is_directory=True)
    return folder


# --- the server --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    base_url: str
    token: str
    root: Path
    process: subprocess.Popen
    log_path: Path
    started_s: float = 0.0  # seconds from the start of the process until the server answered

    def url(self, notebook: str) -> str:
        """The Lab URL that opens ``notebook`` (relative to the server's root) in a workspace of its own (so Lab
        restores no tab of an earlier test), logging in with the token."""
        workspace = Path(notebook).stem.replace("_", "-")
        return f"{self.base_url}lab/workspaces/{workspace}/tree/{quote(notebook)}?token={self.token}"

    def shutdown_kernels(self, wait_s: float = 30.0) -> None:
        """End every notebook session (and its kernel) through the REST API, and wait until no kernel is left."""
        for session in self.api("api/sessions") or []:
            self.api(f"api/sessions/{session['id']}", method="DELETE")
        deadline = time.monotonic() + wait_s
        while self.api("api/kernels") and time.monotonic() < deadline:
            time.sleep(0.25)

    def log(self, last: int = 6000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-last:]

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(
            f"{self.base_url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
            return json.loads(body) if body else None


def lab_command(root: Path, port: int, token: str) -> list:
    """The ``jupyter lab`` command line of the live test (jupyter_server 2.x option names)."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        # window.jupyterapp: the test reads kernel status and cell outputs from Lab's own models
        "--LabApp.expose_app_in_browser=True",
        # offline: no announcements feed, no update check, no PyPI listing in the extension manager
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]


def _children(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # psutil missing or the process is gone: nothing to list
        return []


def _stop(process: subprocess.Popen, wait_s: float = 30.0) -> None:
    """SIGTERM the server by its PID (it shuts its kernels down), then make sure every process it started ends."""
    kids = _children(process.pid)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=wait_s)
    deadline = time.monotonic() + wait_s
    for kid in kids:  # kernels live in their own sessions: end any the server left behind, by PID
        with contextlib.suppress(Exception):
            kid.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(Exception):
            if kid.is_running():
                os.kill(kid.pid, signal.SIGKILL)


@contextlib.contextmanager
def jupyter_lab(root: Path, home: Path, env_extra: dict | None = None, start_timeout: float = 120.0):
    """Start JupyterLab serving ``root``; yields a :class:`LabServer`. Settings, workspaces and runtime files go
    under ``home`` (nothing of the user's own Jupyter set-up is read or changed)."""
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != STATIC_ENV}  # live widgets, as in `make lab`
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the venv's kernel
    # as the Makefile exports it: OpenMP threads that wait sleep, so kernels, server and browser share 2 cores
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[var] = str(home / sub)
        (home / sub).mkdir(parents=True, exist_ok=True)
    env.update(env_extra or {})
    log_path = home / "jupyter-lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            lab_command(root, port, token),
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = LabServer(f"http://127.0.0.1:{port}/", token, root, process, log_path)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with status {process.returncode}:\n{server.log()}")
            try:
                server.api("api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError) as err:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"jupyter lab did not answer within {start_timeout:.0f} s:\n{server.log()}"
                    ) from err
                time.sleep(0.25)
        server.started_s = start_timeout - (deadline - time.monotonic())  # the deadline was start + timeout
        yield server
    finally:
        _stop(process)


# --- a notebook in Lab ---------------------------------------------------------------------------------------
_JS_STATE = """
const app = window.jupyterapp;
const panel = app && app.shell.currentWidget;
if (!panel || !panel.content || !panel.sessionContext) return null;
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const cells = panel.content.widgets.filter(c => c.model.type === 'code');
return {
  kernel: kernel ? kernel.status : 'none',
  code_cells: cells.length,
  executed: cells.filter(c => c.model.executionCount !== null).length,
  pending: cells.filter(c => (c.promptNode ? c.promptNode.textContent : '').includes('*')).length,
  failed: cells.filter(c => !(c.model.getMetadata('tags') || []).includes('raises-exception') &&
                            c.model.outputs.toJSON().some(o => o.output_type === 'error')).length,
};
"""

_JS_OUTPUTS = """
const panel = window.jupyterapp.shell.currentWidget;
return panel.content.widgets.map((c, i) => ({
  index: i, type: c.model.type, tags: c.model.getMetadata('tags') || [],
  execution_count: c.model.type === 'code' ? c.model.executionCount : null,
  outputs: c.model.type === 'code' ? c.model.outputs.toJSON() : [],
}));
"""


class Notebook:
    """One notebook open in Lab, in the browser ``driver``."""

    def __init__(self, driver, server: LabServer, name: str):
        self.driver, self.server, self.name = driver, server, name

    def open(self, timeout: float = 120.0) -> None:
        """Load Lab on the notebook and wait until its kernel is idle."""
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(self.server.url(self.name))
        WebDriverWait(self.driver, timeout, poll_frequency=0.5).until(
            lambda d: (d.execute_script(_JS_STATE) or {}).get("kernel") == "idle",
            f"{self.name}: the notebook did not open with an idle kernel within {timeout:.0f} s",
        )

    def state(self) -> dict:
        return self.driver.execute_script(_JS_STATE) or {}

    def run_all(self, timeout: float) -> float:
        """Run > Run All Cells, as a student would; wait (at most ``timeout`` s) until the kernel is idle with no
        cell queued, and every code cell ran or one failed (Lab then runs none after it). Returns the seconds."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.driver, 20)
        menu = wait.until(
            EC.element_to_be_clickable(
                (By.XPATH, "//*[contains(@class,'lm-MenuBar-item')][.//*[normalize-space()='Run']]")
            )
        )
        menu.click()
        wait.until(
            EC.element_to_be_clickable((By.CSS_SELECTOR, ".lm-Menu-item[data-command='runmenu:run-all']"))
        ).click()
        started = time.monotonic()

        def finished(_):
            s = self.state()
            if s.get("kernel") != "idle" or s.get("pending"):
                return False
            return s.get("executed") == s.get("code_cells") or s.get("failed", 0) > 0

        WebDriverWait(self.driver, timeout, poll_frequency=1.0).until(
            finished, f"{self.name}: Run All did not finish within {timeout:.0f} s (state: {self.state()})"
        )
        return time.monotonic() - started

    def cells(self) -> list:
        """Every cell: {index, type, tags, outputs (nbformat JSON)} as Lab holds them now."""
        return self.driver.execute_script(_JS_OUTPUTS)

    def problems(self) -> list:
        """Errors in cells not tagged ``raises-exception``, any stderr output (warnings land there), and code cells
        that did not run: what a student must not see after Run All."""
        out = []
        cells = self.cells()
        not_run = [c["index"] for c in cells if c["type"] == "code" and c["execution_count"] is None]
        if not_run:
            out.append(f"{len(not_run)} code cells did not run (first: cell {not_run[0]})")
        for cell in cells:
            for o in cell["outputs"]:
                if o.get("output_type") == "error" and "raises-exception" not in cell["tags"]:
                    tb = "\n".join(o.get("traceback", []))[-1500:]
                    out.append(f"cell {cell['index']}: {o.get('ename')}: {o.get('evalue')}\n{tb}")
                elif o.get("output_type") == "stream" and o.get("name") == "stderr":
                    text = o.get("text", "")
                    text = "".join(text) if isinstance(text, list) else text
                    out.append(f"cell {cell['index']} wrote to stderr: {text[:800]}")
        return out

    def widget_views(self) -> int:
        """How many widget outputs (ipywidgets views: the chapter's control, progress bars) the cells hold."""
        return sum(
            1
            for c in self.cells()
            for o in c["outputs"]
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        )

    def save(self) -> None:
        """File > Save (the copy in the test's folder keeps the outputs, for a look after a failure; and Lab
        then has no unsaved changes to ask about when the next test loads another page)."""
        self.driver.execute_script("return window.jupyterapp.commands.execute('docmanager:save');")


# --- widgets ---------------------------------------------------------------------------------------------
def widget_box(driver, label: str, timeout: float = 30.0):
    """The rendered widget box (the outermost ``.widget-vbox`` of an output) holding a control labelled ``label``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    xpath = (
        f"(//div[contains(@class,'jp-OutputArea-output')]//div[contains(@class,'widget-vbox')]"
        f"[.//label[contains(@class,'widget-label') and normalize-space()='{label}']])[1]"
    )
    box = WebDriverWait(driver, timeout).until(
        EC.presence_of_element_located((By.XPATH, xpath)), f"no live widget labelled {label!r} rendered"
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    return box


def control(box, label: str):
    """The control (slider, text box...) labelled ``label`` inside ``box``."""
    from selenium.webdriver.common.by import By

    return box.find_element(By.XPATH, f".//label[contains(@class,'widget-label') and normalize-space()='{label}']/..")


# Reads run as one script in the page, so a view that re-renders meanwhile cannot leave a stale element behind.
_JS_IN_CONTROL = """
const [box, label, selector, property] = arguments;
const l = Array.from(box.querySelectorAll('label.widget-label')).find(e => e.textContent.trim() === label);
const e = l && l.parentElement.querySelector(selector);
return e ? e[property] : null;
"""


def _read(box, script: str, *args):
    return box.parent.execute_script(script, box, *args)


def slider_value(box, label: str) -> int:
    return int(_read(box, _JS_IN_CONTROL, label, ".widget-readout", "textContent").strip())


def query_in(box, label: str) -> str:
    """What the text box labelled ``label`` holds."""
    return _read(box, _JS_IN_CONTROL, label, "input", "value")


def html_in(box) -> str:
    """The markup of the first HTML widget in ``box`` (e.g. the stepper's caption line)."""
    return _read(box, "const e = arguments[0].querySelector('.widget-html-content'); return e ? e.innerHTML : '';")


def images_in(box) -> list:
    """The ``src`` of every image drawn in the widget's output area (matplotlib figures are PNG data URLs)."""
    return _read(box, "return Array.from(arguments[0].querySelectorAll('.widget-output img')).map(i => i.src);")


def text_in(box) -> str:
    """The text the widget's output area shows."""
    return _read(
        box, "return Array.from(arguments[0].querySelectorAll('.widget-output')).map(e => e.innerText).join('\\n');"
    )


def press_on_slider(driver, box, label: str, key: str, times: int = 1) -> None:
    """Press ``key`` (e.g. Keys.ARROW_RIGHT) ``times`` times on the slider's handle, as a keyboard user (sending
    keys to the handle focuses it first)."""
    from selenium.webdriver.common.by import By

    handle = control(box, label).find_element(By.CSS_SELECTOR, ".noUi-handle")
    for _ in range(times):
        handle.send_keys(key)


def type_query(box, label: str, text: str) -> None:
    """Type ``text`` into the text box labelled ``label`` (replacing what it holds) and press Enter."""
    from selenium.webdriver.common.by import By

    field = control(box, label).find_element(By.CSS_SELECTOR, "input")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text, Keys.ENTER)


def wait_until(driver, condition, what: str, timeout: float = 60.0, seen=None) -> None:
    """Wait until ``condition()`` is true, at most ``timeout`` s (then TimeoutException, naming ``what`` and,
    when given, what ``seen()`` returns at that moment)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda _: condition())
    except TimeoutException:
        raise TimeoutException(
            f"{what}: not seen within {timeout:.0f} s" + (f"; seen instead: {seen()!r}" if seen else "")
        ) from None


def wait_for_change(driver, read, before, what: str, timeout: float = 60.0):
    """Wait until ``read()`` returns something other than ``before`` and not empty (no images, no text: the
    output area is being redrawn); returns the new value."""
    from selenium.webdriver.support.ui import WebDriverWait

    result = {}

    def changed(_):
        now = read()
        if now and now != before:
            result["now"] = now
            return True
        return False

    WebDriverWait(driver, timeout, poll_frequency=0.25).until(changed, f"{what}: no change within {timeout:.0f} s")
    return result["now"]


def severe_console_entries(driver, allowed: tuple = ()) -> list:
    """The browser console's SEVERE entries since the last call, except those matching an ``allowed`` substring."""
    return [
        e.get("message", "")
        for e in driver.get_log("browser")
        if e.get("level") == "SEVERE" and not any(a in e.get("message", "") for a in allowed)
    ]
