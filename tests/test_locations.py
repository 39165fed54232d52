"""Name resolution over the shipped Mali gazetteer: variants, levels, ambiguity, misses."""

from __future__ import annotations

import pytest

from ledger.errors import AmbiguousLocation, InvalidInput, UnknownLocation
from ledger.gazetteer import Gazetteer
from ledger.locations import Location, LocationIndex
from ledger.reference import mali_locations


@pytest.fixture(scope="module")
def mali() -> LocationIndex:
    gazetteer = Gazetteer()
    gazetteer.register(mali_locations(), source="shipped", actor="tester")
    return gazetteer.index()


def test_the_shipped_list_has_mali_its_ten_regions_and_fifty_three_cercles(
    mali: LocationIndex,
) -> None:
    levels = [loc.level for loc in mali.by_pcode.values()]
    assert (levels.count(0), levels.count(1), levels.count(2)) == (1, 10, 53)
    assert mali.get("ML10").name == "Menaka" and mali.get("ML10").parent == "MLI"


@pytest.mark.parametrize(
    ("query", "pcode"),
    [
        ("Timbuktu", "ML06"),
        ("Tombouctou", "ML06"),
        ("TOMBOUCTOU", "ML06"),
        ("Menaka", "ML10"),
        ("Ménaka", "ML10"),
        ("  ménaka ", "ML10"),
        ("ml10", "ML10"),
        ("Segou", "ML04"),
        ("Ségou", "ML04"),
        ("mali", "MLI"),
    ],
)
def test_names_resolve_whatever_the_accents_case_or_variant(
    mali: LocationIndex, query: str, pcode: str
) -> None:
    assert mali.resolve(query).location.pcode == pcode


def test_a_bare_region_name_means_the_region_and_names_the_cercle(mali: LocationIndex) -> None:
    resolution = mali.resolve("Mopti")
    assert resolution.location.pcode == "ML05"
    assert resolution.notes == [
        "'Mopti' taken as ML05 Mali/Mopti (admin1); it also names ML0506 Mopti/Mopti (admin2)"
    ]


def test_a_name_qualified_by_its_parent_is_the_cercle(mali: LocationIndex) -> None:
    resolution = mali.resolve("Mopti/Mopti")
    assert (resolution.location.pcode, resolution.notes) == ("ML0506", [])


def test_a_p_code_resolves_without_notes(mali: LocationIndex) -> None:
    assert mali.resolve("ML0506").notes == []


def test_two_locations_with_one_name_at_one_level_is_an_error_listing_both() -> None:
    index = LocationIndex(
        [
            Location("XX", "Country", 0, None),
            Location("XX01", "North", 1, "XX"),
            Location("XX02", "South", 1, "XX"),
            Location("XX0101", "Riverside", 2, "XX01"),
            Location("XX0201", "Riverside", 2, "XX02"),
        ]
    )
    with pytest.raises(AmbiguousLocation) as caught:
        index.resolve("riverside")
    assert str(caught.value) == (
        "location 'riverside' is ambiguous: XX0101 North/Riverside (admin2), "
        "XX0201 South/Riverside (admin2); use a p-code or qualify with the parent (Parent/Name)"
    )
    assert index.resolve("South/Riverside").location.pcode == "XX0201"


def test_an_unknown_name_is_an_error_listing_the_closest(mali: LocationIndex) -> None:
    with pytest.raises(UnknownLocation) as caught:
        mali.resolve("Mopty")
    assert str(caught.value) == (
        "unknown location 'Mopty'; closest: ML05 Mali/Mopti (admin1), ML0506 Mopti/Mopti (admin2)"
    )


def test_a_name_far_from_any_location_lists_no_suggestion(mali: LocationIndex) -> None:
    with pytest.raises(UnknownLocation) as caught:
        mali.resolve("Herat")
    assert str(caught.value) == "unknown location 'Herat'"


def test_no_name_ever_creates_a_location(mali: LocationIndex) -> None:
    before = len(mali)
    for query in ("Kabul", "Mopti/Kabul", "Atlantis/Mopti"):
        with pytest.raises(UnknownLocation):
            mali.resolve(query)
    assert len(mali) == before and "Kabul" not in {loc.name for loc in mali.by_pcode.values()}


def test_an_empty_location_is_refused(mali: LocationIndex) -> None:
    with pytest.raises(InvalidInput, match="location is empty"):
        mali.resolve("  ")


def test_registering_a_known_location_again_changes_nothing() -> None:
    gazetteer = Gazetteer()
    first = gazetteer.register(mali_locations(), source="shipped", actor="tester")
    again = gazetteer.register(mali_locations(), source="shipped", actor="tester")
    assert (len(first), again) == (64, [])
    assert len(gazetteer.collect_events()) == 2  # Created, then one LocationsRegistered


def test_a_new_spelling_becomes_a_variant_of_the_known_location() -> None:
    gazetteer = Gazetteer()
    gazetteer.register(mali_locations(), source="shipped", actor="tester")
    gazetteer.register([Location("ML06", "Tumbutu", 1, "MLI")], source="import", actor="tester")
    assert gazetteer.index().resolve("Tumbutu").location.pcode == "ML06"


def test_a_location_under_an_unknown_parent_is_refused() -> None:
    with pytest.raises(InvalidInput, match="names parent ZZ01, which is not a known location"):
        Gazetteer().register([Location("ZZ0101", "Nowhere", 2, "ZZ01")], "import", "tester")


def test_a_conflicting_hierarchy_is_refused() -> None:
    gazetteer = Gazetteer()
    gazetteer.register(mali_locations(), source="shipped", actor="tester")
    with pytest.raises(InvalidInput, match="already registered as Mopti"):
        gazetteer.register([Location("ML05", "Mopti", 2, "ML07")], "import", "tester")


def test_searching_a_qualified_name_finds_that_one_location() -> None:
    from ledger.locations import LocationIndex
    from ledger.reference import mali_locations

    index = LocationIndex(mali_locations())
    assert [loc.pcode for loc in index.search("Mopti/Mopti")] == ["ML0506"]
    assert index.search("Mopti/Nowhere") == []
