"""The files of one variant's folder, named once: the cells write them through ``VariantFiles`` and
``log_variant`` logs the same list (MLflow paths: ``model/<file>``, ``profile/<file>``, ``summary.json``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MODEL_FOLDER, PROFILE_FOLDER = "model", "profile"  # the run's artifact folders ("" = the run's root)


@dataclass(frozen=True)
class VariantFiles:
    """Where a variant's files live: ``out_dir`` / model.tflite, profile*.json, summary.json."""

    out_dir: Path

    @property
    def tflite(self) -> Path:
        return self.out_dir / "model.tflite"

    @property
    def profile(self) -> Path:
        """The main target's profile of the variant."""
        return self.out_dir / "profile.json"

    @property
    def float_profile(self) -> Path:
        """The float baseline profiled beside the variant on the main target (same rounds)."""
        return self.out_dir / "profile-float-baseline.json"

    def axis_profile(self, axis: str) -> Path:
        """The variant's profile on the experiment's extra profile axis ``axis``."""
        return self.out_dir / f"profile-{axis}.json"

    def axis_float_profile(self, axis: str) -> Path:
        """The float baseline profiled beside the variant on ``axis``."""
        return self.out_dir / f"profile-{axis}-float-baseline.json"

    @property
    def summary(self) -> Path:
        return self.out_dir / "summary.json"

    @staticmethod
    def logged_as(path: Path, folder: str) -> str:
        """The file's path among the run's artifacts (the key of its checksum in the manifest tag)."""
        return f"{folder}/{path.name}" if folder else path.name

    def to_log(self, others: Iterable[Path], axes: Iterable[str], axis_floats: Iterable[str],
               has_float: bool) -> list[tuple[Path, str]]:
        """(file, artifact folder) of every file a finished variant logs: the .tflite and the ``others``
        formats, the profiles written for ``axes`` / ``axis_floats`` (and the float one), the summary."""
        return [(self.tflite, MODEL_FOLDER), *((path, MODEL_FOLDER) for path in others),
                (self.profile, PROFILE_FOLDER),
                *((self.axis_profile(name), PROFILE_FOLDER) for name in axes),
                *((self.axis_float_profile(name), PROFILE_FOLDER) for name in axis_floats),
                *([(self.float_profile, PROFILE_FOLDER)] if has_float else []),
                (self.summary, "")]
