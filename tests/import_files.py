"""Writing small import files for tests: DTM-style HXL CSV and plain `record` CSV.

The generated country TST ("Testland") is synthetic; real rows come from ../shared/data.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

DTM_HEADER = (
    ("operation", "#operation+name"),
    ("admin0Name", "#country+name"),
    ("admin0Pcode", "#country+code"),
    ("admin1Name", "#adm1+name"),
    ("admin1Pcode", "#adm1+code"),
    ("admin2Name", "#adm2+name"),
    ("admin2Pcode", "#adm2+code"),
    ("adminLevel", "#adm+level"),
    ("numPresentIdpInd", "#affected+idps"),
    ("reportingDate", "#date+reported"),
    ("roundNumber", "#round+code"),
    ("displacementReason", "#cause+type"),
    ("numberMales", "#affected+idps+m"),
    ("numberFemales", "#affected+idps+f"),
    ("idpOriginAdmin1Name", "#adm1+name+origin"),
    ("idpOriginAdmin1Pcode", "#adm1+code+origin"),
    ("assessmentType", "#assessment+type"),
)


def dtm_row(
    individuals: int | str,
    *,
    level: int = 1,
    adm1: str = "TST01",
    adm2: str = "TST0101",
    round_: int = 1,
    date: str = "2020-01-31T00:00:00",
    reason: str = "Conflict",
    origin: str = "Not available",
    assessment: str = "BA",
    operation: str = "Test operation",
    males: int | None = None,
    females: int | None = None,
) -> dict[str, Any]:
    return {
        "operation": operation,
        "admin0Name": "Testland",
        "admin0Pcode": "TST",
        "admin1Name": f"Region {adm1}" if level >= 1 else "",
        "admin1Pcode": adm1 if level >= 1 else "",
        "admin2Name": f"District {adm2}" if level >= 2 else "",
        "admin2Pcode": adm2 if level >= 2 else "",
        "adminLevel": level,
        "numPresentIdpInd": individuals,
        "reportingDate": date,
        "roundNumber": round_,
        "displacementReason": reason,
        "numberMales": "" if males is None else males,
        "numberFemales": "" if females is None else females,
        "idpOriginAdmin1Name": origin if origin == "Not available" else f"Region {origin}",
        "idpOriginAdmin1Pcode": origin,
        "assessmentType": assessment,
    }


def write_dtm_hxl(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([name for name, _ in DTM_HEADER])
        writer.writerow([tag for _, tag in DTM_HEADER])
        for row in rows:
            writer.writerow([row.get(name, "") for name, _ in DTM_HEADER])
    return path


def write_plain(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path
