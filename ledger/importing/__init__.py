"""File import: HXL, DTM API JSON and plain CSV into the ledger, streaming and atomic."""

from ledger.importing.checking import RowError
from ledger.importing.planning import Planned
from ledger.importing.rows import FileFormat, detect_format
from ledger.importing.writing import ImportOptions, ImportRefused, ImportReport, import_file

__all__ = [
    "FileFormat",
    "ImportOptions",
    "ImportRefused",
    "ImportReport",
    "Planned",
    "RowError",
    "detect_format",
    "import_file",
]
