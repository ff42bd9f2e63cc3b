"""The SSH target against a real OpenSSH server started on the loopback interface by the test."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import rng_images
from workbench.errors import ProfileError
from workbench.profile.targets import run_ssh
from workbench.spec import TargetSpec

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
pytestmark = pytest.mark.skipif(not Path(SSHD).exists() or not shutil.which("ssh"),
                                reason="needs openssh-server and openssh-client (make system-deps installs them)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    (keys / "authorized_keys").write_text((keys / "user.pub").read_text())
    port = _free_port()
    config = tmp_path / "sshd_config"
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {keys / 'host'}
AuthorizedKeysFile {keys / 'authorized_keys'}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile {tmp_path / 'sshd.pid'}
Subsystem sftp internal-sftp
""")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    target = TargetSpec(host=f"{getpass.getuser()}@127.0.0.1", ssh_port=port, ssh_key=str(keys / "user"),
                        remote_python=sys.executable, warmup_runs=2, min_runs=20, min_seconds=0.1, max_seconds=3)
    yield target, ("-o", f"UserKnownHostsFile={tmp_path / 'known_hosts'}")
    proc.terminate()
    proc.wait(timeout=10)


def test_profile_over_ssh(sshd, tiny_tflite, tmp_path, monkeypatch):
    """Through ``profile_model``, as `workbench profile --host` and a sweep do: the device's CPUs are recorded
    for ``validate`` (here the device is this machine)."""
    import os

    from workbench.devices import known_device
    from workbench.profile import profile_model

    target, opts = sshd
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))  # the project whose .workbench/devices.json is written
    r = profile_model(tiny_tflite, target, rng_images(8), ssh_options=opts)
    known = known_device(target.host, target.ssh_port, tmp_path)
    assert known is not None and known.cpus == tuple(sorted(os.sched_getaffinity(0))), known
    assert known.cpu_model == r.device["cpu_model"]
    assert r.latency.runs >= 20
    assert r.device.get("remote") == target.host == r.raw["device"]["remote"]
    assert (r.device["cpu_count"] or 0) >= 1 and r.device["cpu_model"]
    assert r.tensorflow_imported is False
    assert r.input_source_used == "test"
    assert r.external_peak_rss_mb is None  # only a local parent can poll the runner's memory


def test_ssh_unreachable_is_one_line(sshd, tiny_tflite):
    target, opts = sshd
    bad = target.model_copy(update={"ssh_port": _free_port()})
    with pytest.raises(ProfileError, match="cannot connect") as info:
        run_ssh(tiny_tflite, bad, ssh_options=opts)
    assert "\n" not in str(info.value)


def test_profile_over_ssh_on_other_runtimes(sshd, tiny_model, tmp_path):
    """The same protocol with the ONNX Runtime / OpenVINO backend copied beside the runner."""
    from workbench.convert.onnx import convert_onnx

    target, opts = sshd
    onnx = tmp_path / "tiny.onnx"
    onnx.write_bytes(convert_onnx(tiny_model, "float32"))
    for runtime in ("onnxruntime", "openvino"):
        r = run_ssh(onnx, target.model_copy(update={"runtime": runtime}), rng_images(8), ssh_options=opts)
        assert r.runtime.package == runtime and r.request.runtime == runtime
        assert r.latency.runs >= 20 and r.device.get("remote") == target.host and r.tensorflow_imported is False
