"""What pygeoapi's HTML pages show a planner instead of raw columns: field titles, code-list labels, names.

The templates (sdi/server/templates) call these through the Jinja global `sdi` (registered in
sdi.server.html): `sdi.field(theme, name)`, `sdi.value(theme, name, v)`, `sdi.shown(theme, props)`,
`sdi.title(theme, props, id)`, `sdi.plural(n, one, few, many)`. Everything here returns text or Markup
built from escaped text: a feature's value never becomes markup.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from sdi.core.config import Registry, registry

# Columns a planner does not read: the database's and the loader's own keys, and the geometry.
HIDDEN = {
    "fid",
    "load_id",
    "source_id",
    "source_fid",
    "geom",
    "geometry",
    "extent",
    "sdi_load_id",
    "valid_from",
    "valid_to",
    "history_id",
}
# The feature's name, in order of preference; an address point is named by its street and number.
_NAME_FIELDS = ("name", "title", "plan_name", "street")


def _known() -> Registry | None:
    try:
        return registry()
    except Exception:  # noqa: BLE001 -- a page must render even when config/ cannot be read: raw names then
        return None


def theme_of(data: dict) -> str:
    """The collection id of a pygeoapi page's data: its own id, or the last part of its dataset path."""
    for key in ("dataset_path", "items_path"):
        path = str(data.get(key) or "").rstrip("/")
        if path:
            parts = path.split("/")
            return parts[-2] if key == "items_path" else parts[-1]
    for link in data.get("links") or []:
        if link.get("rel") == "collection" and link.get("href"):
            return str(link["href"]).split("?")[0].rstrip("/").split("/")[-1]
    return str(data.get("id") or "")


# Columns every theme has, outside the schemas' own fields.
_COMMON = {"city": ("Gmina (TERYT)", "Municipality (TERYT)")}


def field(theme: str, name: str) -> Markup:
    """A column's heading: the Polish title, the English on hover."""
    known = _known()
    spec = known.schemas[theme].fields.get(name) if known and theme in known.schemas else None
    if name in _COMMON and spec is None:
        return Markup('<span title="{}" lang="pl">{}</span>').format(_COMMON[name][1], _COMMON[name][0])
    if spec is None or spec.title is None:
        return Markup("{}").format(name)
    return Markup('<span title="{}" lang="pl">{}</span>').format(spec.title.en, spec.title.pl)


def field_text(theme: str, name: str) -> str:
    """A column's heading as plain text "Polski / English" (for data-label attributes)."""
    known = _known()
    spec = known.schemas[theme].fields.get(name) if known and theme in known.schemas else None
    if spec is None and name in _COMMON:
        return " / ".join(_COMMON[name])
    return f"{spec.title.pl} / {spec.title.en}" if spec is not None and spec.title else name


def value(theme: str, name: str, raw: Any) -> Markup:
    """A cell: empty for no value, a code's Polish label with its English (and the code) on hover, else the text."""
    if raw is None or raw == "" or raw == []:
        return Markup("")
    known = _known()
    spec = known.schemas[theme].fields.get(name) if known and theme in known.schemas else None
    codes = known.codelists.get(spec.codelist) if known and spec is not None and spec.codelist else None
    if isinstance(raw, bool):
        return Markup("tak / yes") if raw else Markup("nie / no")
    items = raw if isinstance(raw, list) else [raw]
    shown = []
    for item in items:
        code = codes.codes.get(str(item)) if codes else None
        if code is not None:
            shown.append(
                Markup(
                    '<span class="sdi-code" title="{} ({})">{}</span> <small class="text-muted">({})</small>'
                ).format(code.en, item, code.pl, code.en)
            )
        else:
            shown.append(escape(str(item)))
    return Markup(", ").join(shown)


def shown(theme: str, props: dict) -> list[str]:
    """The columns worth a column: not internal, and in the schema's order when the theme has one."""
    known = _known()
    names = [k for k in props if k not in HIDDEN and not k.startswith("_")]
    if known and theme in known.schemas:
        order = list(known.schemas[theme].fields)
        names.sort(key=lambda k: order.index(k) if k in order else len(order))
    return names


def columns(theme: str, features: list[dict]) -> list[str]:
    """The items table's columns: shown() of the page's features, less those empty in every row and the name,
    which is the first column already (25 columns of mostly nothing ran past the screen)."""
    if not features:
        return []
    names = shown(theme, features[0].get("properties") or {})
    used = {k for ft in features for k, v in (ft.get("properties") or {}).items() if v not in (None, "", [])}
    first = next((k for k in _NAME_FIELDS if k in used), None)
    return [k for k in names if k in used and k != first]


def title(theme: str, props: dict | None, fid: Any) -> str:
    """A feature's name for headings and links: its name, or its street and house number, else its id."""
    props = props or {}
    street, number = props.get("street"), props.get("house_number")
    if theme == "address_points" and street:
        return f"{street} {number or ''}".strip()
    for key in _NAME_FIELDS:
        if props.get(key):
            return str(props[key])
    return str(fid)


def plural(n: int, one: str, few: str, many: str) -> str:
    """Polish plural: 1 gmina, 2-4 gminy (not 12-14), 5+ gmin; `one`, `few`, `many` are the three forms."""
    n = abs(int(n))
    if n == 1:
        return one
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return few
    return many


def theme_title(theme: str) -> str:
    """ "Drogi / Roads" for a theme id, or the id."""
    known = _known()
    spec = (known.schemas.get(theme) or known.rasters.get(theme)) if known else None
    return f"{spec.title.pl} / {spec.title.en}" if spec is not None else theme


def raster_legend(theme: str) -> dict | None:
    """A raster theme's legend: its classes (colour, Polish, English) or its colour ramp and unit; None for
    pictures (orthophoto, scanned drawings), which are their own legend."""
    known = _known()
    spec = known.rasters.get(theme) if known else None
    if spec is None:
        return None
    if spec.classes:
        return {
            "classes": [
                {"value": v, "color": c.color or "#808080", "pl": c.pl, "en": c.en}
                for v, c in sorted(spec.classes.items())
            ]
        }
    if spec.ramp and len(spec.bands) == 1:
        return {"ramp": "linear-gradient(to right, " + ", ".join(spec.ramp) + ")", "unit": spec.unit or ""}
    return None


class _Api:
    """The namespace the templates see as `sdi`."""

    theme_of = staticmethod(theme_of)
    field = staticmethod(field)
    field_text = staticmethod(field_text)
    value = staticmethod(value)
    shown = staticmethod(shown)
    columns = staticmethod(columns)
    title = staticmethod(title)
    plural = staticmethod(plural)
    theme_title = staticmethod(theme_title)
    raster_legend = staticmethod(raster_legend)


GLOBALS = {"sdi": _Api()}
