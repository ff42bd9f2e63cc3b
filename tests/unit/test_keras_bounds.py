"""A .keras archive is checked within bounds (issue 20): its zip directory's declared sizes are read before
anything is unpacked, and config.json is read at most MAX_KERAS_CONFIG_BYTES, so a 1.6 MB config or a member
declaring GiBs is refused at once instead of being unpacked (3.9 GB, 30 s per check before)."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import pytest

from workbench.errors import ModelFileError
from workbench.model_files import MAX_KERAS_CONFIG_BYTES, check_model_file

CONFIG = {"class_name": "Sequential", "config": {"layers": []}}


def _keras(path: Path, config: bytes, weights: bytes = b"\0" * 64) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", config)
        z.writestr("model.weights.h5", weights)
    return path


def _declare(path: Path, member: str, size: int) -> Path:
    """Rewrite the uncompressed size the central directory declares for ``member`` (the local header keeps
    the truth): what a crafted archive does."""
    data = bytearray(path.read_bytes())
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        name_len = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46: start + 46 + name_len].decode() == member:
            struct.pack_into("<I", data, start + 24, size)
        start += 4
    path.write_bytes(bytes(data))
    return path


def test_a_config_over_the_cap_is_refused_from_the_directory(tmp_path: Path) -> None:
    big = json.dumps({**CONFIG, "pad": "x" * 1_600_000}).encode()  # 1.6 MB, compresses to a few KB
    with pytest.raises(ModelFileError, match="config.json declares 1,600,.* bytes, over 1,000,000"):
        check_model_file(_keras(tmp_path / "m.keras", big))


def test_a_config_that_under_declares_its_size_is_read_only_to_the_cap(tmp_path: Path) -> None:
    path = _keras(tmp_path / "m.keras", json.dumps({**CONFIG, "pad": "x" * (MAX_KERAS_CONFIG_BYTES + 10)}).encode())
    _declare(path, "config.json", 100)
    with pytest.raises(ModelFileError, match=r"m.keras: (config.json is over 1,000,000 bytes|corrupt|unreadable)"):
        check_model_file(path)


def test_a_member_declaring_gibibytes_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = _keras(tmp_path / "m.keras", json.dumps(CONFIG).encode())
    _declare(path, "model.weights.h5", 0xF0000000)  # 3.75 GiB
    with pytest.raises(ModelFileError, match=r"declare 3.8 GiB unpacked \(model.weights.h5: 3.8 GiB\), over the 2 GiB"):
        check_model_file(path)


def test_a_config_nested_past_the_recursion_limit_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="nested too deeply"):
        check_model_file(_keras(tmp_path / "m.keras", b"[" * 200_000 + b"]" * 200_000))


def test_a_plain_keras_archive_passes(tmp_path: Path) -> None:
    assert check_model_file(_keras(tmp_path / "m.keras", json.dumps(CONFIG).encode())).format == "keras"
