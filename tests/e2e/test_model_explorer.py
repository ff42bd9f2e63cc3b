"""A Model Explorer overlay, opened the way docs/overlays.md says (``workbench graph MODEL --overlay FILE``), in a
real browser, offline: Google's Model Explorer serves a small .tflite on a free loopback port with the per-tensor
SNR overlay ``workbench quantize --overlay`` wrote; headless Chromium, allowed to reach 127.0.0.1 only, shows the
graph, names the overlay in its node-data panel and paints the nodes in the overlay's colours (counted in the
screenshot, kept in test-artifacts/model-explorer.png). No TensorFlow: the model is built from LiteRT's schema.
A real sweep's overlays are opened the same way in tests/e2e/test_dashboard.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.e2e.browser import ARTIFACTS, needs_chromium
from tests.e2e.model_explorer import graph_server, open_graph

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``workbench quantize`` writes the SNR overlay of a 3-layer MLP; ``workbench graph`` serves both."""
    from tests.unit.tiny_tflite import mlp_tflite

    root = tmp_path_factory.mktemp("me")
    model = root / "mlp.tflite"
    model.write_bytes(mlp_tflite())
    overlay = root / "snr-db.json"
    q = subprocess.run([sys.executable, "-m", "workbench.cli", "quantize", str(model), "-m", "int4_weights",
                        "--overlay", str(overlay)], cwd=root, capture_output=True, text=True, timeout=120)
    assert q.returncode == 0, q.stderr
    with graph_server([str(model), "--overlay", str(overlay)], root) as (port, log):
        yield root, model, overlay, port, log


def test_the_server_asks_no_one_for_a_newer_release(served):
    """Model Explorer's release check (PyPI, GitHub) is answered on this machine: at once, with our mark."""
    port = served[3]
    t = time.monotonic()
    answer = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/check_new_version", timeout=10).read())
    assert answer["version"] == "" and answer.get("checked") == "no (offline)", answer
    assert time.monotonic() - t < 5


def test_the_graph_renders_with_the_overlay_applied(served):
    from workbench.views.model_explorer_app import explorer_url
    from workbench.views.overlay import read_overlay

    root, model, overlay, port, log = served
    values = {k: v["value"] for k, v in read_overlay(overlay)["results"].items()}
    assert {"h0", "h1", "y"} <= set(values) and len(set(values.values())) >= 3  # layer outputs and weights
    url = explorer_url("127.0.0.1", port, model, [overlay])
    assert url in log.read_text()  # the address `workbench graph` prints
    seen = open_graph(url, [overlay.name], ARTIFACTS / "model-explorer.png")
    assert seen["errors"] == [] and seen["outside"] == [], seen  # nothing tried to leave the machine
    assert seen["distinct"] > 50, f"the screenshot is (nearly) blank: {seen}"
    # lowest SNR red, highest green: the three layers painted by the overlay (a node is ~ 160 x 36 pixels)
    assert seen["bad"] > 2000 and seen["good"] > 2000, seen
