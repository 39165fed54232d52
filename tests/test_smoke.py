from ledger.application import Ledger


def test_a_recorded_figure_reads_back_on_every_backend(ledger: Ledger) -> None:
    written = ledger.record(
        kind="assessment",
        location="Mali",
        date="2017-12",
        individuals="38172",
        households="7716",
        source={"publisher": "IOM DTM"},
    )
    record = ledger.get_record(written.record_id)
    assert (record.pcode, record.individuals, record.households) == ("MLI", 38172, 7716)
    assert record.date == "2017-12-31" and record.precision == "month"
