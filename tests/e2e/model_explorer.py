"""Model Explorer for the browser tests: ``workbench graph ...`` started on a free loopback port, and its page
opened in headless Chromium with every request that is not to 127.0.0.1 aborted (and recorded)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests.conftest import free_port

LOOPBACK = {"127.0.0.1", "localhost"}
GOOD, BAD = "#1a9850", "#d73027"  # the overlays' gradient ends (workbench/views/overlay.py)


@contextmanager
def graph_server(args: list[str], cwd: Path, start_s: float = 45) -> Iterator[tuple[int, Path]]:
    """``workbench graph ARGS --port P`` running until the block ends: (P, its log file)."""
    from workbench.run.task import kill_tree

    port = free_port()
    log_path = cwd / f"graph-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "graph", *args, "--port", str(port)], cwd=cwd,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + start_s
            while True:
                try:
                    if urllib.request.urlopen(f"http://127.0.0.1:{port}/check_health", timeout=2).read() \
                            == b"model_explorer_ok":
                        break
                except OSError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.3)
            yield port, log_path
        finally:
            kill_tree(proc.pid)
            proc.wait()


def loopback_only(page: Any, outside: list[str]) -> None:
    """Abort every request of ``page`` that is not to this machine; its address goes to ``outside``."""
    def route(r: Any) -> None:
        if urlparse(r.request.url).hostname in LOOPBACK:
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def colour_counts(png: Path, tol: int = 24) -> dict[str, int]:
    """Pixels of the screenshot: distinct colours, and how many are within ``tol`` (per channel) of each end of
    the overlays' gradient."""
    import numpy as np
    from PIL import Image

    px = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16).reshape(-1, 3)
    near = {name: int((np.abs(px - np.array(_rgb(c))) <= tol).all(axis=1).sum()) for name, c in
            (("good", GOOD), ("bad", BAD))}
    return {"distinct": len(np.unique(px, axis=0)), **near}


def open_graph(url: str, overlays: list[str], shot: Path) -> dict[str, Any]:
    """Open ``url`` in headless Chromium (loopback only) until Model Explorer's node-data panel lists ``overlays``
    (file names, in order) with none in error and the graph's canvas shows; screenshot to ``shot``. Returns the
    page errors, the requests that tried to leave the machine, and ``colour_counts`` of the screenshot."""
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.browser import launch

    outside: list[str] = []
    errors: list[str] = []
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        loopback_only(page, outside)
        page.goto(url)
        panel = page.locator("node-data-provider-summary-panel")
        expect(panel.locator(".run-name")).to_have_text(overlays, timeout=45_000)
        expect(panel.locator(".error")).to_have_count(0)
        expect(page.locator("webgl-renderer canvas").first).to_be_visible()
        page.wait_for_timeout(1500)  # the renderer's last frame
        page.screenshot(path=str(shot))
        browser.close()
    return {"errors": errors, "outside": outside, **colour_counts(shot)}
