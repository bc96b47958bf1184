"""User-facing errors: every message says what went wrong and what to do about it."""


class NeurofinError(Exception):
    """An error the user can fix; the CLI prints it without a traceback and exits 2."""

    exit_code = 2


class ConfigError(NeurofinError):
    """Invalid settings, TOML file or CLI override."""


class DataError(NeurofinError):
    """A dataset file is missing, unreadable or inconsistent."""


class AnnexPointerError(DataError):
    """A git-annex pointer (tiny text file or dangling link) sits where data should be."""


class TruncatedFileError(DataError):
    """An HDF5 or other binary file is incomplete or corrupt."""


class MissingTextGridError(DataError):
    """A story has responses but no TextGrid transcript."""


class RowCountError(DataError):
    """A design matrix and the response file disagree on the number of TRs."""


class ModelLoadError(NeurofinError):
    """A language model could not be found, downloaded, or loaded."""


class PackageIntegrityError(NeurofinError):
    """A saved model package fails its checksum or shape checks."""


class InputError(NeurofinError):
    """User-supplied input (texts, tables, dumps) is unusable as given."""


class AtlasError(NeurofinError):
    """An atlas, ROI definition file or subject registration input is missing or invalid."""
