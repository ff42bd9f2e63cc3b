"""The workbench's small exception family. The CLI turns any of these into one line and exit status 2."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: a problem the user can fix; the message says what and how."""


class SpecError(WorkbenchError):
    """An experiment file or spec value is invalid (names the file, key path, value and allowed values)."""


class DataError(WorkbenchError):
    """A dataset cannot be loaded or does not fit the model."""


class ModelFileError(WorkbenchError):
    """A model file (Keras or .tflite) is missing, corrupt or unsupported."""


class TrackingError(WorkbenchError):
    """The MLflow tracking store cannot be reached or refused a write."""


class RunSettled(TrackingError):
    """A run this process writes to was settled (KILLED, FAILED) by its sweep: nothing more goes into it."""


class TrackingLost(TrackingError):
    """The tracking store stopped answering mid-way and kept failing for the whole retry budget."""


class StorageError(WorkbenchError):
    """The operating system refused a write or read (disk full, quota, read-only, permissions); names the path."""


class IntegrityError(WorkbenchError):
    """A stored or cached file no longer matches the SHA-256 recorded when it was produced."""


class ProfileError(WorkbenchError):
    """The on-target runner failed; carries the child's own error text."""


class VariantFailed(WorkbenchError):
    """A variant's notebook failed; carries the failing cell and error."""
