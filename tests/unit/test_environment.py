"""requirements.txt, constraints.txt and environment.yml describe one environment."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
        assert m, f"not pinned exactly: {line!r}"
        out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_every_requirement_is_pinned_and_environment_yml_matches():
    req = _pins((REPO / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert _pins(pip_section) == req
    assert "-e ." in pip_section


def test_constraints_agree_with_requirements():
    req = _pins((REPO / "requirements.txt").read_text().splitlines())
    cons = _pins((REPO / "constraints.txt").read_text().splitlines())
    for name, version in req.items():
        assert cons.get(name) == version, f"{name}: requirements {version} vs constraints {cons.get(name)}"


def test_no_second_tensorflow_or_keras3_pin():
    req = _pins((REPO / "requirements.txt").read_text().splitlines())
    assert "tensorflow-cpu" not in req  # tf_keras depends on `tensorflow`: a second copy would clash
    assert "tf-keras" in req and "tensorflow-model-optimization" in req
