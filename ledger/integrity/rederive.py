"""Whether a derivation (``explain --format json``) follows from the record versions its
events establish, by the figure rule of docs/design.md, recomputed node by node.

For every record version the derivation shows: its events say the same (kind, location,
date, individuals, households, quantifier, role, source, breakdowns, actor, when it was
recorded, each correction) and it was recorded by the derivation's known-at instant. For
every figure: with a baseline (an assessment at the location itself, dated on or before
the as-of date; the superseded ones at the same place and date, recorded before it), the
figure is the baseline plus the registrations minus the returns at the location or below,
dated after the baseline and on or before the as-of date; without one, the sum of its
children's figures (each a child of the location) plus the flows at the location itself.
Households are given only when every part has them; a figure without a baseline that rests
on flows is partial; a figure is exact only when every counted part is; the arithmetic
shown adds up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.dates import FigureDate
from ledger.integrity.errors import AuditFailed
from ledger.integrity.evidence import Evidence, Version, level_name

FLOW_KINDS = ("registration", "return")
_TERM = re.compile(r"([+-]?)\s*([\d,]+)")


@dataclass(frozen=True)
class Rederived:
    """A figure as recomputed from its parts (and how much was checked to get it)."""

    individuals: int
    households: int | None
    records: int
    without_households: int
    partial: bool
    exact: bool
    figures: int  # figures (nodes) checked
    versions: frozenset[tuple[str, int]]  # record versions shown


@dataclass(frozen=True)
class Rule:
    """The figure rule for one (as of, known at) pair, over the bundle's evidence."""

    evidence: Evidence
    as_of: date
    known_at: datetime

    def figure(self, node: Any, where: str) -> Rederived:
        pcode = self._location(node, where)
        here = f"{where}{self.evidence.locations[pcode].get('name')} ({pcode})"
        baseline = node.get("baseline")
        children = _list(node, "children", here)
        flows = [self.version(v, f"{here} flow") for v in _list(node, "flows", here)]
        shown: set[tuple[str, int]] = {(f.record_id, f.version) for f in flows}
        for v in _list(node, "triangulation", here) if "triangulation" in node else []:
            found = self.version(v, f"{here} triangulation")
            self._same(found.fields.get("role"), "triangulation", "role", found, here)
            shown.add((found.record_id, found.version))
        for flow in flows:
            if flow.fields["kind"] not in FLOW_KINDS:
                raise AuditFailed(
                    f"{here}: record {_rid(flow)} is a {flow.fields['kind']}, not a flow"
                )
            self._counted(flow, here)
        parts: list[Rederived] = []
        if baseline is not None:
            base = self.version(baseline, f"{here} baseline")
            shown.add((base.record_id, base.version))
            self._baseline(base, pcode, here)
            for old in _list(node, "superseded", here):
                other = self.version(old, f"{here} superseded")
                shown.add((other.record_id, other.version))
                if (other.fields["kind"], other.fields["pcode"], _day(other)) != (
                    "assessment",
                    pcode,
                    _day(base),
                ) or other.created > base.created:
                    raise AuditFailed(
                        f"{here}: record {_rid(other)} is shown as superseded by the baseline, "
                        "but it is not an assessment of the same place and date recorded before it"
                    )
            if children:
                raise AuditFailed(f"{here}: a figure with a baseline has no children to add")
            for flow in flows:
                if not self._within(flow.fields["pcode"], pcode) or not (
                    _day(base) < _day(flow) <= self.as_of
                ):
                    raise AuditFailed(
                        f"{here}: flow record {_rid(flow)} ({flow.fields['pcode']}, "
                        f"{_shown_date(flow)}) is not at or below {pcode} dated after the "
                        f"baseline ({_shown_date(base)}) and on or before {self.as_of}"
                    )
            terms = [base.fields["individuals"], *(_signed(f) for f in flows)]
            counted = [base, *flows]
            records, without = (
                len(counted),
                sum(1 for v in counted if v.fields["households"] is None),
            )
            households = None if without else sum(_signed_households(v) for v in counted)
            partial, exact = False, all(v.fields["quantifier"] == "exact" for v in counted)
        else:
            for flow in flows:
                if flow.fields["pcode"] != pcode or _day(flow) > self.as_of:
                    raise AuditFailed(
                        f"{here}: flow record {_rid(flow)} ({flow.fields['pcode']}, "
                        f"{_shown_date(flow)}) is not at {pcode} itself dated on or before "
                        f"{self.as_of}"
                    )
            for child in children:
                entry = self.evidence.locations.get(_pcode(child, here))
                if entry is None or entry.get("parent") != pcode:
                    raise AuditFailed(
                        f"{here}: {_pcode(child, here)} is added as a part of {pcode}, but the "
                        "bundle's locations do not put it under it"
                    )
                parts.append(self.figure(child, f"{here} → "))
            terms = [p.individuals for p in parts] + [_signed(f) for f in flows]
            records = len(flows) + sum(p.records for p in parts)
            without = sum(1 for f in flows if f.fields["households"] is None)
            without += sum(p.without_households for p in parts)
            households = None
            if records and not without:
                households = sum(_signed_households(f) for f in flows)
                households += sum(p.households or 0 for p in parts)
            partial = bool(flows) or any(p.partial for p in parts)
            exact = all(f.fields["quantifier"] == "exact" for f in flows) and all(
                p.exact for p in parts
            )
        individuals = sum(terms)
        self._claims(node, here, individuals, households, partial, exact, terms)
        for part in parts:
            shown |= part.versions
        return Rederived(
            individuals, households, records, without, partial, exact,
            1 + sum(p.figures for p in parts), frozenset(shown),
        )  # fmt: skip

    def version(self, shown: Any, where: str) -> Version:
        """The version the derivation shows, checked against what its events say."""
        if not isinstance(shown, dict):
            raise AuditFailed(f"{where}: a record version that is not an object")
        try:
            rid = UUID(str(shown["record_id"])).hex
            number = shown["version"]
        except (KeyError, ValueError):
            raise AuditFailed(f"{where}: a record version without a valid record id") from None
        found = self.evidence.versions.get((rid, number))
        if found is None:
            raise AuditFailed(
                f"{where}: the derivation rests on record {shown['record_id']} version "
                f"{number}, but the bundle holds no event for it"
            )
        if found.retracted:
            raise AuditFailed(f"{where}: record {_rid(found)} version {number} is a retraction")
        if found.event.time > self.known_at:
            raise AuditFailed(
                f"{where}: record {_rid(found)} version {number} was recorded at "
                f"{found.event.time.isoformat()}, after the derivation's known-at instant"
            )
        location = shown.get("location") or {}
        claims: list[tuple[str, Any, Any]] = [
            ("kind", shown.get("kind"), found.fields["kind"]),
            ("location", location.get("pcode"), found.fields["pcode"]),
            ("date", shown.get("date"), _shown_date(found)),
            ("individuals", shown.get("individuals"), found.fields["individuals"]),
            ("households", shown.get("households"), found.fields["households"]),
            ("actor", shown.get("actor"), found.actor),
            ("recorded at", _instant(shown.get("recorded_at")), found.created),
        ]
        for name in ("quantifier", "role", "source", "breakdowns"):
            if name in shown:
                claims.append((name, shown[name], found.fields[name]))
        entry = self.evidence.locations.get(found.fields["pcode"])
        if entry is not None and "name" in location:
            claims.append(("location name", location["name"], entry.get("name")))
        for name, said, actual in claims:
            self._same(said, actual, name, found, where)
        self._corrections(shown, found, where)
        return found

    def _corrections(self, shown: dict[str, Any], found: Version, where: str) -> None:
        said = shown.get("corrections", [])
        if not isinstance(said, list):
            raise AuditFailed(f"{where}: record {_rid(found)}'s corrections are not a list")
        expected: dict[tuple[Any, Any], tuple[Any, ...]] = {
            (k, name): (old, new, v.reason, v.actor, v.event.time)
            for k in range(2, found.version + 1)
            for v in [self.evidence.versions[(found.record_id, k)]]
            for name, (old, new) in v.changes.items()
        }
        listed: dict[tuple[Any, Any], tuple[Any, ...]] = {}
        for c in said:
            if not isinstance(c, dict):
                raise AuditFailed(
                    f"{where}: record {_rid(found)} has a correction that is not an object"
                )
            listed[(c.get("version"), c.get("field"))] = (
                c.get("old"), c.get("new"), c.get("reason"), c.get("actor"),
                _instant(c.get("recorded_at")),
            )  # fmt: skip
        if listed != expected:
            differing = {k for k in listed.keys() & expected.keys() if listed[k] != expected[k]}
            wrong = sorted((listed.keys() ^ expected.keys()) | differing, key=str)
            raise AuditFailed(
                f"{where}: record {_rid(found)}'s correction (version {wrong[0][0]}, field "
                f"{wrong[0][1]}) is not what its events say"
            )

    def _same(self, said: Any, actual: Any, name: str, found: Version, where: str) -> None:
        if said != actual or type(said) is not type(actual):
            raise AuditFailed(
                f"{where}: record {_rid(found)} version {found.version} says {name} "
                f"{_show(said)} in the derivation, but its events say {_show(actual)}"
            )

    def _location(self, node: Any, where: str) -> str:
        if not isinstance(node, dict):
            raise AuditFailed(f"{where or 'the derivation'} is not an object")
        pcode = _pcode(node, where)
        entry = self.evidence.locations.get(pcode)
        if entry is None:
            raise AuditFailed(f"{where}{pcode}: the bundle's events do not register this location")
        location = node.get("location") or {}
        for name, said, actual in (
            ("name", location.get("name"), entry.get("name")),
            ("level", location.get("level"), level_name(entry)),
        ):
            if said != actual:
                raise AuditFailed(
                    f"{where}{pcode}: the derivation names its {name} {_show(said)}, the "
                    f"bundle's location events say {_show(actual)}"
                )
        return pcode

    def _baseline(self, base: Version, pcode: str, here: str) -> None:
        if base.fields["kind"] != "assessment" or base.fields["pcode"] != pcode:
            raise AuditFailed(
                f"{here}: the baseline record {_rid(base)} is not an assessment at {pcode} itself"
            )
        if _day(base) > self.as_of:
            raise AuditFailed(
                f"{here}: the baseline record {_rid(base)} is dated {_shown_date(base)}, after "
                f"{self.as_of}"
            )
        self._counted(base, here)

    def _counted(self, version: Version, here: str) -> None:
        if version.fields.get("role", "recommended") != "recommended":
            raise AuditFailed(
                f"{here}: record {_rid(version)} is a {version.fields['role']} figure, which "
                "is shown beside the figure, never counted"
            )

    def _within(self, pcode: str, ancestor: str) -> bool:
        seen: set[str] = set()
        while pcode not in seen:
            if pcode == ancestor:
                return True
            seen.add(pcode)
            parent = (self.evidence.locations.get(pcode) or {}).get("parent")
            if not isinstance(parent, str):
                return False
            pcode = parent
        return False

    def _claims(
        self,
        node: dict[str, Any],
        here: str,
        individuals: int,
        households: int | None,
        partial: bool,
        exact: bool,
        terms: list[int],
    ) -> None:
        for name, said, actual in (
            ("individuals", node.get("individuals"), individuals),
            ("households", node.get("households"), households),
            ("partial", node.get("partial"), partial),
        ):
            if said != actual or type(said) is not type(actual):
                raise AuditFailed(
                    f"{here}: the derivation says {name} {_show(said)}, but its records add "
                    f"up to {_show(actual)} by the figure rule"
                )
        if "quantifier" in node and (node["quantifier"] == "exact") != exact:
            raise AuditFailed(
                f"{here}: the derivation calls the figure {node['quantifier']!r}, but "
                f"{'every' if exact else 'not every'} counted part of it is exact"
            )
        arithmetic = node.get("arithmetic")
        if isinstance(arithmetic, str) and not _adds_up(arithmetic, terms, individuals):
            raise AuditFailed(
                f"{here}: the arithmetic shown ({arithmetic}) is not the sum of its records"
            )


def _adds_up(text: str, terms: list[int], total: int) -> bool:
    if text == "0 (no figures)":
        return not terms and total == 0
    left, _, right = text.partition("=")
    said = [int(n.replace(",", "")) * (-1 if s == "-" else 1) for s, n in _TERM.findall(left)]
    if not right:
        return said == [total] and sum(terms) == total
    result = _TERM.findall(right)
    return (
        said == terms
        and len(result) == 1
        and int(result[0][1].replace(",", "")) * (-1 if result[0][0] == "-" else 1) == total
    )


def _list(node: dict[str, Any], key: str, where: str) -> list[Any]:
    value = node.get(key, [])
    if not isinstance(value, list):
        raise AuditFailed(f"{where}: {key} is not a list")
    return value


def _pcode(node: Any, where: str) -> str:
    location = node.get("location") if isinstance(node, dict) else None
    pcode = location.get("pcode") if isinstance(location, dict) else None
    if not isinstance(pcode, str):
        raise AuditFailed(f"{where or 'the derivation'}: a figure without a location")
    return pcode


def _day(version: Version) -> date:
    return _figure_date(version).day


def _figure_date(version: Version) -> FigureDate:
    try:
        return FigureDate.of(version.fields["date"], version.fields["precision"])
    except (ValueError, TypeError, KeyError):
        raise AuditFailed(f"record {_rid(version)} has no readable date") from None


def _shown_date(version: Version) -> str:
    return str(_figure_date(version))


def _signed(version: Version) -> int:
    value = version.fields["individuals"]
    if type(value) is not int:
        raise AuditFailed(f"record {_rid(version)} has no whole number of individuals")
    return -value if version.fields["kind"] == "return" else value


def _signed_households(version: Version) -> int:
    value = version.fields["households"]
    if type(value) is not int:
        raise AuditFailed(f"record {_rid(version)} has no whole number of households")
    return -value if version.fields["kind"] == "return" else value


def _instant(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _rid(version: Version) -> str:
    return str(UUID(hex=version.record_id))


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)
