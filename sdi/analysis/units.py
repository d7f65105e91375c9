"""The units of analysis, each filled into one temporary table (fid, label, precinct, addresses, geom).

The law's unit is the registered parcel (art. 13f ust. 2). Address points and residential buildings are
further views of the same question (where do people live, and how far do they walk), as the issue asks:
an address point is measured from itself, a building from its outline. Every unit says how many address
points it holds, so that the summaries can give the share of addresses that comply whatever the unit.
"""

from __future__ import annotations

import psycopg

from sdi.core import sqlfiles
from sdi.core.errors import InputError

#: What each unit is called in messages, and the theme that holds it.
THEME = {"parcels": "parcels", "addresses": "address_points", "buildings": "buildings"}
NOUN = {"parcels": "parcels", "addresses": "address points", "buildings": "residential buildings"}


# The precinct of an address point or a building is that of the parcel holding it (its point on surface).
# Address points count where they stand in a parcel or a building, or within 5 m of a building's outline
# (PRG places many of them at the entrance, just outside the footprint). sdi/sql/analysis/units_<units>.sql
def script(units: str, tables: dict[str, str]) -> str:
    """The statements that fill temporary table _units (fid, label, precinct, addresses, geom) with the units of
    city %(city)s, over the current views in tables (fixed text: no caller's value)."""
    return sqlfiles.load(f"analysis/units_{units}.sql").format(**tables).strip().rstrip(";")


def outline(units: str, tables: dict[str, str]) -> str:
    """Only the units' city and geometry: where the network must reach, without the per-unit lookups."""
    residential = " WHERE u.function = 'residential'" if units == "buildings" else ""
    return f"(SELECT u.city, u.geom FROM {tables[THEME[units]]} u{residential})"


def check_loaded(conn: psycopg.Connection, units: str, city: str, tables: dict[str, str]) -> int:
    """The number of units of city; a one-line error naming the theme to load when there are none."""
    count = conn.execute(
        f"SELECT count(*) FROM {outline(units, tables)} x WHERE x.city = %s",  # noqa: S608
        [city],
    ).fetchone()
    if not count or count[0] == 0:
        hint = " (buildings whose function is residential)" if units == "buildings" else ""
        raise InputError(
            f"city {city} has no {NOUN[units]} to analyse{hint}",
            f"load them first: sdi load FILE --city {city} --theme {THEME[units]}, or choose other --units",
        )
    return int(count[0])
