"""What each cell of a variant returns; the next cells take these as arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ModelFileError
from workbench.profile import ProfileResult
from workbench.profile.stats import Ratio
from workbench.runtimes import RuntimeFiles


@dataclass(frozen=True)
class Exported:
    """The deployable file and what the conversion decided."""

    path: Path
    facts: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    sha256: str = ""  # of the bytes written, computed once: evaluation, profiling and logging see this very file
    others: dict[str, Path] = field(default_factory=dict)  # format -> model.<format>, for the runtimes that run it
    other_errors: dict[str, str] = field(default_factory=dict)  # format -> why it could not be made

    @property
    def files(self) -> RuntimeFiles:
        """The file each runtime runs (the .tflite, or the format its catalogue record names)."""
        return RuntimeFiles(self.path, self.others, self.other_errors)

    def check(self, actual_sha256: str) -> str:
        """``actual_sha256`` (of the file as found now); ModelFileError when it is no longer the file the
        conversion wrote, so a number is never logged for other bytes than measured."""
        if self.sha256 and actual_sha256 != self.sha256:
            raise ModelFileError(f"{self.path} changed after it was converted (sha256 {self.sha256[:12]}, now "
                                 f"{actual_sha256[:12]}); something else writes into this variant folder")
        return actual_sha256


@dataclass(frozen=True)
class Quality:
    """Metrics computed by running the exported file on LiteRT, and what it holds."""

    metrics: dict[str, float]
    facts: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    failed_runtimes: dict[str, str] = field(default_factory=dict)  # runtime -> why it cannot run the variant


@dataclass(frozen=True)
class Profiled:
    """The variant's profile, the extra profile axes, and the float baseline measured beside it (same rounds)."""

    result: ProfileResult
    axes: dict[str, ProfileResult]
    float_result: ProfileResult | None
    paid_off: str  # "true" | "false" | "reference"
    speedup_vs_float: float
    notes: tuple[str, ...] = ()
    failed_axes: dict[str, str] = field(default_factory=dict)  # axis name -> why it could not be measured
    axis_float_results: dict[str, ProfileResult] = field(default_factory=dict)  # float beside each runtime axis
    speedup: Ratio | None = None  # float p50 / variant p50 per round, with its interval (None: the reference)
    axis_speedups: dict[str, Ratio] = field(default_factory=dict)  # the same per runtime axis
    rounds: int = 1  # interleaved profiling rounds
