"""User model files checked and fingerprinted without TensorFlow: the errors come before any cost.

A model file is identified by its content: the SHA-256 of its bytes, or, for a SavedModel directory, of
its sorted relative paths and their bytes. ``check_model_file`` also recognises the format from the bytes
(a ``.keras`` is a zip holding ``config.json``, an ``.h5`` starts with the HDF5 signature, a SavedModel
directory holds ``saved_model.pb``) and refuses a Lambda layer whose Python code would run on load.
Imports only the standard library (and h5py, lazily, to read an .h5's model config).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.catalog.zoo import ZOO_NAMES
from workbench.errors import ModelFileError, SpecError
from workbench.files import refuse_special
from workbench.model_config import ModelSignature, signature_of

KERAS_SUFFIXES = (".keras",)
H5_SUFFIXES = (".h5", ".hdf5")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048)  # the superblock may follow a user block of 512 * 2^n bytes
_CHUNK = 1 << 20
#: a .keras archive's config.json: Keras writes a few hundred KB for the largest application models
MAX_KERAS_CONFIG_BYTES = 1_000_000
#: a .keras archive's members together, as their zip directory declares them (unpacked): 2 GiB of float32
#: weights is 500 million parameters, far past what is trained here
MAX_KERAS_UNPACKED_BYTES = 2 << 30

Format = Literal["keras", "h5", "savedmodel"]


@dataclass(frozen=True)
class ModelFile:
    """A checked model file: where it is, its format, its content fingerprint and (.keras, .h5) its signature."""

    path: Path
    format: Format
    sha256: str
    size_bytes: int
    signature: ModelSignature | None = None
    config: Any = field(default=None, repr=False, compare=False)  # the Keras config read (.keras, .h5)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks (large models never sit in memory twice)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _tree_files(root: Path) -> Iterator[tuple[str, Path]]:
    for p in sorted(root.rglob("*"), key=lambda q: q.relative_to(root).as_posix()):
        if p.is_file():
            yield p.relative_to(root).as_posix(), p


def sha256_tree(root: Path) -> str:
    """SHA-256 over a directory: each file's relative path, size and bytes, in sorted path order."""
    h = hashlib.sha256()
    for rel, p in _tree_files(root):
        h.update(f"{rel}\0{p.stat().st_size}\0".encode())
        with open(p, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()


def content_sha256(path: Path) -> str:
    """The content fingerprint of a file or a directory."""
    return sha256_tree(path) if path.is_dir() else sha256_file(path)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for _, p in _tree_files(path)) if path.is_dir() else path.stat().st_size


def is_zoo_model(model: str) -> bool:
    return model in ZOO_NAMES


def model_path(model: str, root: Path | None = None) -> Path | None:
    """Where the baseline's model file is (relative paths are under ``root``); None for a zoo model."""
    if is_zoo_model(model):
        return None
    p = Path(model)
    return p if p.is_absolute() or root is None else root / p


def _find_lambda(config: Any, python_code_only: bool) -> str | None:
    """The name of the first Lambda layer anywhere in a Keras config (nested models included)."""
    if isinstance(config, dict):
        if config.get("class_name") == "Lambda":
            inner = config.get("config") or {}
            if not python_code_only or inner.get("function_type", "lambda") == "lambda":
                return str(inner.get("name", "lambda"))
        for v in config.values():
            found = _find_lambda(v, python_code_only)
            if found:
                return found
    elif isinstance(config, list):
        for v in config:
            found = _find_lambda(v, python_code_only)
            if found:
                return found
    return None


def _check_declared_sizes(path: Path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse a .keras whose zip directory declares a config.json over MAX_KERAS_CONFIG_BYTES or members over
    MAX_KERAS_UNPACKED_BYTES together: checking them (CRCs, JSON) would read that much."""
    config = next(m for m in members if m.filename == "config.json")
    if config.file_size > MAX_KERAS_CONFIG_BYTES:
        raise ModelFileError(f"{path}: config.json declares {config.file_size:,} bytes, over {MAX_KERAS_CONFIG_BYTES:,}; "
                             "Keras model configs are a few hundred KB: re-save the model with model.save('model.keras')")
    total = sum(m.file_size for m in members)
    if total > MAX_KERAS_UNPACKED_BYTES:
        big = max(members, key=lambda m: m.file_size)
        raise ModelFileError(f"{path}: its members declare {total / 2**30:.1f} GiB unpacked ({big.filename}: "
                             f"{big.file_size / 2**30:.1f} GiB), over the {MAX_KERAS_UNPACKED_BYTES / 2**30:.0f} GiB "
                             "a model file may hold here")


def _check_keras(path: Path) -> Any:
    redo = "re-save it with model.save('model.keras')"
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a .keras archive (not a zip file: empty, truncated or another format); "
                             f"{redo}")
    try:
        with zipfile.ZipFile(path) as z:
            if "config.json" not in z.namelist():
                raise ModelFileError(f"{path}: a zip file but not a Keras model (no config.json); {redo}")
            _check_declared_sizes(path, z.infolist())  # from the zip directory: nothing unpacked yet
            bad = z.testzip()  # CRC of every member: catches overwritten bytes inside the archive
            if bad is not None:
                raise ModelFileError(f"{path}: corrupt .keras archive (member {bad} fails its checksum); {redo}")
            with z.open("config.json") as f:
                text = f.read(MAX_KERAS_CONFIG_BYTES + 1)  # bounded even if the directory under-declares it
            if len(text) > MAX_KERAS_CONFIG_BYTES:
                raise ModelFileError(f"{path}: config.json is over {MAX_KERAS_CONFIG_BYTES:,} bytes; Keras model "
                                     f"configs are a few hundred KB; {redo}")
            config = json.loads(text)
    except ModelFileError:
        raise
    except RecursionError:
        raise ModelFileError(f"{path}: config.json is nested too deeply to be a Keras model config; {redo}") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # ValueError: JSON, zlib
        raise ModelFileError(f"{path}: unreadable .keras archive ({type(exc).__name__}: {exc}); {redo}") from None
    name = _find_lambda(config, python_code_only=True)
    if name:
        raise ModelFileError(f"{path}: contains a Lambda layer ('{name}') holding Python code, which safe mode "
                             "refuses to run on load; re-save the model without it")
    return config


def _check_h5(path: Path) -> Any:
    with open(path, "rb") as f:
        head = f.read(_HDF5_OFFSETS[-1] + len(HDF5_SIGNATURE))
    if not any(head[o : o + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE for o in _HDF5_OFFSETS):
        raise ModelFileError(f"{path}: not an HDF5 file (no HDF5 signature: empty, truncated or another format); "
                             "re-save it with model.save('model.h5')")
    import h5py

    try:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config")
    except OSError as exc:
        raise ModelFileError(f"{path}: not a readable HDF5 Keras model ({exc})") from None
    if config is None:
        raise ModelFileError(f"{path}: HDF5 file has no Keras model_config (weights-only files are not models)")
    text = config.decode() if isinstance(config, bytes) else str(config)
    try:
        parsed = json.loads(text)
    except ValueError:
        raise ModelFileError(f"{path}: its Keras model_config is not valid JSON (corrupt file)") from None
    name = _find_lambda(parsed, python_code_only=False)
    if name:
        raise ModelFileError(f"{path}: contains a Lambda layer ('{name}'), whose code would run on load; "
                             "re-save without it")
    return parsed


def check_model_file(path: Path) -> ModelFile:
    """Check that ``path`` is a model file of a recognised format and fingerprint it (no TensorFlow).

    Raises ModelFileError (one line) for a missing, unreadable, corrupt or unsupported file.
    """
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist; give a path relative to the project root, "
                             "or an absolute one")
    refuse_special(path, "model file", ModelFileError, folder_ok=True)  # a SavedModel is a folder
    fmt: Format
    config: Any = None
    try:
        if path.is_dir():
            if not (path / "saved_model.pb").is_file():
                raise ModelFileError(f"{path}: a directory but not a SavedModel (no saved_model.pb)")
            fmt = "savedmodel"
        elif path.suffix in KERAS_SUFFIXES:
            config = _check_keras(path)
            fmt = "keras"
        elif path.suffix in H5_SUFFIXES:
            config = _check_h5(path)
            fmt = "h5"
        else:
            raise ModelFileError(f"{path}: unsupported model file type '{path.suffix}'; use .keras, .h5 or a "
                                 "SavedModel directory")
        return ModelFile(path, fmt, content_sha256(path), _size(path), signature_of(config), config)
    except PermissionError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror}); check its permissions") from None


def resolve_model(model: str, root: Path | None = None) -> ModelFile | None:
    """The checked model file of ``baseline.model``; None for a zoo model.

    SpecError when the name is neither a zoo model nor a model path; ModelFileError when the file is
    missing or not a usable model.
    """
    path = model_path(model, root)
    if path is None:
        return None
    if not path.exists() and path.suffix not in KERAS_SUFFIXES + H5_SUFFIXES:
        raise SpecError(f"baseline.model: '{model}' is neither a zoo model ({', '.join(ZOO_NAMES)}) nor an "
                        f"existing model file (.keras, .h5 or a SavedModel directory; looked for {path})")
    return check_model_file(path)


def weight_bytes(model: str, root: Path | None = None) -> int | None:
    """The bytes a model file's weights take, without loading it: a .keras archive's members other than its
    config (declared sizes), an .h5 file's or a SavedModel folder's size; None for a zoo model or a file
    that cannot be read (its own check says why)."""
    path = model_path(model, root)
    if path is None:
        return None
    try:
        if path.suffix in KERAS_SUFFIXES and path.is_file():
            with zipfile.ZipFile(path) as z:
                return sum(m.file_size for m in z.infolist() if not m.filename.endswith(".json"))
        return _size(path)
    except (OSError, zipfile.BadZipFile):
        return None


def model_fingerprint(model: str, root: Path | None = None) -> str:
    """The content fingerprint of ``baseline.model``: '' for a zoo model (its ids never change)."""
    checked = resolve_model(model, root)
    return "" if checked is None else checked.sha256
