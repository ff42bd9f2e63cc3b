"""`workbench graph`: the command that opens a model in Model Explorer with its overlays, offline. Here without a
server or a browser (tests/e2e/test_model_explorer.py opens one): the address and command it builds, the
node-data files it accepts, and the one-line refusals before anything starts."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from click.testing import CliRunner

from tests.unit.tiny_tflite import mlp_tflite
from workbench.cli import main
from workbench.views.model_explorer_app import _no_new_version, command, explorer_url, offline_index
from workbench.views.overlay import read_overlay, write_overlay


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "mlp.tflite"
    model.write_bytes(mlp_tflite())
    return model, write_overlay(tmp_path / "ms.json", {"h0": 1.0, "h1": 2.0, "y": 4.0})


def test_the_address_carries_the_model_and_each_overlay_as_model_explorer_encodes_them(files):
    model, overlay = files
    url = explorer_url("127.0.0.1", 8123, model, [overlay])
    assert url.startswith("http://127.0.0.1:8123/?data=")
    data = json.loads(parse_qs(urlparse(url).query)["data"][0])
    assert data == {"models": [{"url": str(model.absolute())}], "nodeData": [str(overlay.absolute())],
                    "nodeDataTargets": [""]}
    try:  # the same parameter as Model Explorer's own config writes, where it is installed
        from model_explorer.config import ModelExplorerConfig
    except ImportError:
        return
    cfg = ModelExplorerConfig()
    cfg.add_model_from_path(str(model))
    cfg.add_node_data_from_path(str(overlay))
    assert url.endswith("?data=" + cfg.to_url_param_value())


def test_the_server_command_and_the_release_check_it_answers_itself(files):
    model, overlay = files
    argv = command(model, [overlay], "127.0.0.1", 8123)
    assert argv[1:3] == ["-m", "workbench.views.model_explorer_app"]
    assert f"--overlay={overlay}" in argv and "--host=127.0.0.1" in argv and "--port=8123" in argv
    assert _no_new_version()["version"] == ""  # "no newer release": Model Explorer shows no upgrade chip
    page = ('<head><link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>\n'
            '  <link rel="shortcut icon" href="/static_files/favicon.svg">\n  <style>@font-face{font-family:X;'
            "src:url(https://fonts.gstatic.com/s/x.woff2) format('woff2');}@font-face{font-family:X;"
            "src:url(/static_files/x.woff2)}</style></head>")
    assert offline_index(page) == ('<head><link rel="shortcut icon" href="/static_files/favicon.svg">\n  <style>'
                                   "@font-face{font-family:X;src:url(/static_files/x.woff2)}</style></head>")
    import importlib.util

    spec = importlib.util.find_spec("model_explorer")
    if spec is not None and spec.submodule_search_locations:  # the installed web app's page: nothing remote left
        html = (Path(spec.submodule_search_locations[0]) / "web_app" / "index.html").read_text()
        assert "fonts.gstatic.com" in html and "https://" not in offline_index(html)
        assert "<app-root>" in offline_index(html) and "main-" in offline_index(html)


def test_node_data_files_are_read_as_model_explorer_reads_them(tmp_path, files):
    _, overlay = files
    assert read_overlay(overlay)["results"]["y"] == {"value": 4.0}
    by_graph = tmp_path / "graphs.json"  # ModelNodeData: {graph id: GraphNodeData}
    by_graph.write_text(json.dumps({"main": {"results": {"y": {"value": 1}}}}))
    assert "main" in read_overlay(by_graph)
    for text, words in (("not json", "is not JSON"), ('{"results": [1, 2]}', "is not Model Explorer node data"),
                        ('{"results": {"y": 3}}', "is not Model Explorer node data"), ("[]", "node data")):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        r = CliRunner().invoke(main, ["graph", str(files[0]), "--overlay", str(bad), "--no-serve"])
        assert r.exit_code == 2 and words in r.output and r.output.count("\n") == 1, r.output


def test_no_serve_prints_the_command_and_starts_nothing(files):
    model, overlay = files
    r = CliRunner().invoke(main, ["graph", str(model), "--overlay", str(overlay), "--no-serve", "--port", "8123"])
    assert r.exit_code == 0, r.output
    assert "1 overlay(s)" in r.output and "workbench.views.model_explorer_app" in r.output


def test_refusals_are_one_line_before_anything_starts(tmp_path, files):
    model, overlay = files
    keras = tmp_path / "m.keras"
    keras.write_bytes(b"PK")
    cases = [
        (["graph", str(tmp_path / "missing.tflite")], "no such .tflite"),
        (["graph", str(keras)], "read a .tflite"),
        (["graph", "tiny", "--overlay", str(overlay)], "--overlay goes with a model file"),
        (["graph", str(model), "--overlay", str(tmp_path / "missing.json")], "does not exist"),
    ]
    with socket.socket() as busy:  # a port something listens on
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cases.append((["graph", str(model), "--port", str(busy.getsockname()[1])], "already listens"))
        for args, words in cases:
            r = CliRunner().invoke(main, args)
            if "already listens" in words and "not installed" in r.output:
                continue  # without Model Explorer the port is never reached
            assert r.exit_code == 2 and words in r.output and r.output.count("\n") == 1, (args, r.output)


def test_per_node_times_are_keyed_by_the_source_tensor_then_by_the_weights():
    from workbench.profile.layers import overlay_values

    layers = {"nodes": [
        {"node": "4 [4,4_1]", "ms_p50": 1.0, "tensors": ["fc1/Relu"], "weights": ["aaaa"]},
        {"node": "Convolution_58 [Convolution_58,Transpose_60]", "ms_p50": 2.0, "weights": ["bbbb", "cccc"]},
        {"node": "Convolution_70 [Convolution_70]", "ms_p50": 0.5, "weights": ["zero"]},  # two ops share it
        {"node": "MaxPool_5 [MaxPool_5]", "ms_p50": 0.25},
        {"node": "Reorder_9", "ms_p50": 0.25, "tensors": ["fc1/Relu"]}]}
    ops = [{"outputs": ["conv1/Relu"], "weights": ["cccc", "zero"]}, {"outputs": ["conv2/Relu"], "weights": ["zero"]},
           {"outputs": ["fc1/Relu"], "weights": ["aaaa"]}]
    assert overlay_values(layers, ops) == {"fc1/Relu": 1.25, "conv1/Relu": 2.0, "Convolution_70": 0.5,
                                           "MaxPool_5": 0.25}
    assert overlay_values(layers) == {"fc1/Relu": 1.25, "Convolution_58": 2.0, "Convolution_70": 0.5,
                                      "MaxPool_5": 0.25}


def test_a_tflite_s_ops_name_their_outputs_and_weights(files):
    from tests.unit.tiny_tflite import mlp_tflite
    from workbench.tflite_model import op_weights, weights_digest

    ops = op_weights(mlp_tflite())
    assert [op["outputs"] for op in ops] == [["h0"], ["h1"], ["y"]]
    assert all(len(op["weights"]) == 2 for op in ops)  # kernel and bias (16 values or more)
    x = np.arange(32, dtype=np.float32).reshape(4, 8)
    assert weights_digest(x) == weights_digest(x.T.copy()) != weights_digest(x + 1)  # order-free, value-exact
