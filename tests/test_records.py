"""The figure record aggregate and its guards, in memory (no store)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from ledger.errors import InvalidInput, NothingToChange, RecordRetracted
from ledger.inputs import Correction, NewFigure, Retraction, validated
from ledger.records import FigureRecord, versions_from_events


def figure(**overrides: Any) -> NewFigure:
    values: dict[str, Any] = {
        "kind": "assessment",
        "pcode": "MLI",
        "date": "2017-12",
        "individuals": "38172",
        "households": "7716",
        "source": {"publisher": "IOM DTM", "report": "DTM report Dec 2017 (DNDS)"},
    }
    values.update(overrides)
    return validated(NewFigure, **values)


def record(**overrides: Any) -> FigureRecord:
    return FigureRecord.from_input(figure(**overrides), "amina", uuid4())


def correction(**values: Any) -> Correction:
    return validated(Correction, **{"reason": "typo in the report", **values})


def test_a_new_record_holds_every_field_of_the_figure() -> None:
    new = record(origin=None, cause="conflict", note="exact day not stated")
    assert (new.kind, new.pcode, new.date, new.precision) == (
        "assessment",
        "MLI",
        "2017-12-31",
        "month",
    )
    assert (new.individuals, new.households, new.actor) == (38172, 7716, "amina")
    assert new.source == {"publisher": "IOM DTM", "report": "DTM report Dec 2017 (DNDS)"}
    assert (new.cause, new.note, new.retracted, new.version) == (
        "conflict",
        "exact day not stated",
        None,
        1,
    )


def test_unknown_households_stay_unknown_not_zero() -> None:
    assert record(households="").households is None
    assert record(households="unknown").households is None
    assert record(households="0").households == 0


def test_a_correction_records_only_the_fields_it_changes() -> None:
    rec = record()
    rec.correct(correction(individuals=38000, households=7716), "bakary")
    [_, corrected] = rec.collect_events()
    assert corrected.changes == {"individuals": 38000}
    assert (corrected.reason, corrected.actor) == ("typo in the report", "bakary")
    assert (rec.individuals, rec.version) == (38000, 2)


def test_a_correction_can_make_households_unknown() -> None:
    rec = record()
    rec.correct(correction(households_unknown=True), "amina")
    assert rec.households is None


def test_a_correction_of_the_date_keeps_the_new_precision() -> None:
    rec = record()
    rec.correct(correction(date="2017-12-20"), "amina")
    assert (rec.date, rec.precision) == ("2017-12-20", "day")


def test_a_correction_that_changes_nothing_is_refused_and_records_nothing() -> None:
    rec = record()
    with pytest.raises(NothingToChange, match=f"the correction of record {rec.id} changes nothing"):
        rec.correct(correction(individuals=38172, pcode="MLI"), "amina")
    assert len(rec.collect_events()) == 1


def test_a_correction_may_not_leave_households_above_individuals() -> None:
    rec = record()
    with pytest.raises(
        InvalidInput, match=r"^households \(7716\) cannot exceed individuals \(7000\)$"
    ):
        rec.correct(correction(individuals=7000), "amina")
    assert rec.individuals == 38172 and len(rec.collect_events()) == 1


def test_a_retracted_record_cannot_be_corrected_or_retracted_again() -> None:
    rec = record()
    rec.retract("duplicate", "amina")
    with pytest.raises(RecordRetracted, match="is retracted and cannot be amended"):
        rec.correct(correction(individuals=1), "amina")
    with pytest.raises(RecordRetracted):
        rec.retract("again", "amina")
    assert [type(e).__name__ for e in rec.collect_events()] == ["Recorded", "Retracted"]


def test_a_correction_needs_a_reason() -> None:
    with pytest.raises(InvalidInput, match=r"^a correction needs a reason$"):
        validated(Correction, individuals=1, reason="  ")


def test_a_retraction_needs_a_reason() -> None:
    with pytest.raises(InvalidInput, match=r"^a retraction needs a reason$"):
        validated(Retraction, reason="")


def test_versions_replay_what_changed_who_and_why() -> None:
    rec = record()
    rec.correct(correction(individuals=38000), "bakary")
    rec.retract("duplicate of the DTM figure", "chantal")
    versions = versions_from_events(rec.collect_events())
    assert [(v.version, v.action, v.actor, v.reason) for v in versions] == [
        (1, "recorded", "amina", None),
        (2, "corrected", "bakary", "typo in the report"),
        (3, "retracted", "chantal", "duplicate of the DTM figure"),
    ]
    assert [(c.field, c.old, c.new) for c in versions[1].changes] == [("individuals", 38172, 38000)]
    assert [v.individuals for v in versions] == [38172, 38000, 38000]
    assert [v.retracted for v in versions] == [False, False, True]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"individuals": "-5"}, "individuals must be a whole number ≥ 0, got -5"),
        ({"individuals": "2.5"}, "individuals must be a whole number ≥ 0, got '2.5'"),
        ({"individuals": True}, "individuals must be a whole number ≥ 0, got True"),
        ({"households": "-1"}, "households must be a whole number ≥ 0, got -1"),
        ({"households": "40000"}, "households (40000) cannot exceed individuals (38172)"),
        (
            {"kind": "stock"},
            "KIND 'stock' is not one of assessment, registration, return, new_displacement",
        ),
        ({"date": "2999-01"}, "date 2999-01 is in the future"),
        ({"date": "1850"}, "date 1850 is before 1900"),
        ({"source": {"publisher": " "}}, "source is required (who published the figure)"),
    ],
)
def test_invalid_figures_are_refused_with_one_line(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        figure(**overrides)
    assert str(caught.value) == message
