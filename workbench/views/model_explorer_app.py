"""Google's Model Explorer (``ai-edge-model-explorer``) serving one model and its node-data overlays on this
machine, offline: what ``workbench graph`` runs.

Model Explorer's own command (``model-explorer model.tflite --node_data_paths=...``) asks PyPI and GitHub for a
newer release once its server is up and whenever its page asks (``/api/v1/check_new_version``), and its page
loads a font from fonts.gstatic.com. This script starts the same server (``model_explorer.server.start``, the
package's own web app) with two answers given here instead: the release check says "no newer release", and
``index.html`` is served without the remote font (its stylesheet declares the same font from the package). Nothing leaves the
machine: the browser test aborts every request that is not to 127.0.0.1, counts none, and sees the graph and
the overlay. Only this module imports ``model_explorer``; the CLI starts it as a process of its own::

    python -m workbench.views.model_explorer_app MODEL [--overlay FILE]... --host 127.0.0.1 --port 8080
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

PACKAGE = "ai-edge-model-explorer"  # what pip installs; ``model_explorer`` is what it imports
MODULE = "model_explorer"


def installed() -> bool:
    """Whether Model Explorer can be imported here (without importing it)."""
    import importlib.util

    return importlib.util.find_spec(MODULE) is not None


def explorer_url(host: str, port: int, model: Path, overlays: Sequence[Path] = ()) -> str:
    """The address that opens ``model`` with ``overlays`` (Model Explorer's ``?data=`` parameter, as its
    ``ModelExplorerConfig.to_url_param_value`` writes it: absolute paths, each overlay on the first model)."""
    data: dict[str, object] = {"models": [{"url": os.path.abspath(model)}]}
    if overlays:
        data["nodeData"] = [os.path.abspath(p) for p in overlays]
        data["nodeDataTargets"] = ["" for _ in overlays]
    return f"http://{host}:{port}/?data={quote(json.dumps(data))}"


def command(model: Path, overlays: Sequence[Path], host: str, port: int) -> list[str]:
    """The command line that serves ``model`` with ``overlays`` on ``host:port`` until it is stopped."""
    return [sys.executable, "-m", __name__, str(model), *(f"--overlay={p}" for p in overlays),
            f"--host={host}", f"--port={port}"]


def graph_tensors(model: Path) -> dict[str, list[str]]:
    """Node id -> the tensor names on the node's outputs, for every node of ``model`` as Model Explorer's built-in
    ``.tflite`` adapter draws it (what a node-data key is matched against: a node id or one of these names)."""
    from workbench.quiet import quiet_native_output

    with quiet_native_output():  # the adapter's C++ (TensorFlow's graph code) logs a oneDNN line on stderr
        from model_explorer.builtin_tflite_flatbuffer_adapter import BuiltinTfliteFlatbufferAdapter

        collections = BuiltinTfliteFlatbufferAdapter().convert(str(model), {})["graphCollections"]
    out: dict[str, list[str]] = {}
    for collection in collections:
        for graph in collection.graphs:
            for node in graph["nodes"]:  # (a node id repeated in another subgraph: their names together)
                out.setdefault(node["id"], []).extend(a["value"] for m in node.get("outputsMetadata", [])
                                                      for a in m.get("attrs", []) if a.get("key") == "tensor_name")
    return out


def _no_new_version(print_msg: bool = True) -> dict[str, str]:
    """Model Explorer's answer when PyPI knows no newer release (its own shape, and a mark that says why),
    without asking PyPI."""
    return {"version": "", "runningVersion": "", "releaseUrl": "", "desktopAppUrl": "", "checked": "no (offline)"}


#: what in the web app's index.html leaves the machine: a <link> to a remote host (0.1.34: a preconnect to
#: fonts.gstatic.com) and @font-face rules whose files are remote (Google Sans Text; its stylesheet, which is
#: served here, declares the same font from the package's own static_files)
_REMOTE_LINK = re.compile(r'<link[^>]*href="https?://[^"]*"[^>]*>\s*')
_REMOTE_FONT_FACE = re.compile(r"@font-face\{[^}]*url\(https?://[^}]*\}")


def offline_index(html: str) -> str:
    """Model Explorer's ``index.html`` without what would be fetched from the internet (its remote font)."""
    return _REMOTE_FONT_FACE.sub("", _REMOTE_LINK.sub("", html))


def serve(model: Path, overlays: Sequence[Path], host: str, port: int) -> None:
    """Serve until Ctrl-C (Model Explorer's ``server.start``, no browser opened, no release check, no font from
    the internet)."""
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # its health check uses requests
    import flask
    from model_explorer import server
    from model_explorer.config import ModelExplorerConfig

    # the routes and the start-up thread look these names up in the module at each call
    server._check_new_version = _no_new_version
    serve_asset = server._serve_static_asset
    index = offline_index((Path(server.__file__).parent / "web_app" / "index.html").read_text())

    def serve_static_asset(rel_path: str) -> object:
        if rel_path == "index.html":
            return flask.Response(index, mimetype="text/html")
        return serve_asset(rel_path)

    server._serve_static_asset = serve_static_asset
    cfg = ModelExplorerConfig()
    cfg.add_model_from_path(str(model))
    for path in overlays:
        cfg.add_node_data_from_path(str(path))
    server.start(host=host, port=port, config=cfg, no_open_in_browser=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--overlay", type=Path, action="append", default=[])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.model, args.overlay, args.host, args.port)


if __name__ == "__main__":
    main()
