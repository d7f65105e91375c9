"""The declarative configuration: theme schemas, code lists and mappings, as validated pydantic models.

Every problem is located as `file: key.path: message`, and all of them are collected before anything is
reported, so that `sdi check` shows a city everything wrong with its YAML at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sdi.core.errors import ConfigError
from sdi.core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

FieldType = Literal["string", "integer", "number", "boolean", "date"]
GeometryType = Literal["Point", "MultiPoint", "MultiLineString", "MultiPolygon"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Label(_Strict):
    pl: str
    en: str


class SchemaField(_Strict):
    """One field of a theme's common schema."""

    type: FieldType
    title: Label | None = None
    description: Label | None = None
    required: bool = False
    unit: str | None = None
    codelist: str | None = None
    multiple: bool = False
    #: teryt: values are TERYT codes, normalised (146501_1 -> 1465011) and refused when impossible
    format: Literal["teryt"] | None = None
    aliases: list[str] = []


class Schema(_Strict):
    """The common schema of one theme (config/schemas/<theme>.yaml)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    title: Label
    description: Label | None = None
    based_on: list[str] = []
    geometry: GeometryType
    crs: Literal["EPSG:2180"] = "EPSG:2180"
    group: Literal["reference", "infrastructure", "transport", "services", "environment", "planning"]
    access: Literal["public", "restricted"] = "public"
    fields: dict[str, SchemaField]

    @field_validator("fields")
    @classmethod
    def _no_reserved(cls, fields: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(set(fields) & {"fid", "city", "source_id", "load_id", "geom"})
        if clash:
            raise ValueError(f"{', '.join(clash)} are added by sdi to every theme and cannot be declared")
        return fields


class RasterBand(_Strict):
    name: str
    title: Label


class RasterSchema(_Strict):
    """A raster theme (config/schemas/<theme>.yaml with `kind: raster`): what every city's grid must hold."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    kind: Literal["raster"]
    title: Label
    description: Label | None = None
    based_on: list[str] = []
    crs: Literal["EPSG:2180"] = "EPSG:2180"
    group: Literal["reference", "infrastructure", "transport", "services", "environment", "planning"]
    access: Literal["public", "restricted"] = "public"
    bands: list[RasterBand] = Field(min_length=1)
    dtype: Literal["uint8", "uint16", "int16", "float32"]
    nodata: float | None = None
    unit: str | None = None
    #: nearest for classes and pictures of drawings, where a blend of two classes means nothing
    resampling: Literal["nearest", "bilinear", "cubic"]
    #: class value -> label and colour, for classified grids (noise, flood hazard)
    classes: dict[int, Code] | None = None
    #: colours from low to high for a one-band continuous grid (elevation), in the preview
    ramp: list[str] | None = None


class Code(_Strict):
    pl: str
    en: str
    bdot10k: str | None = None
    inspire: str | None = None
    app: str | None = None
    color: str | None = None
    aliases: list[str] = []


class Codelist(_Strict):
    """A code list (config/codelists/<id>.yaml): codes with Polish and English labels."""

    id: str
    title: Label
    based_on: str | list[str] | None = None
    codes: dict[str, Code]

    def lookup(self) -> dict[str, str]:
        """Every spelling that means a code (the code, its labels, BDOT10k/APP codes, aliases), folded."""
        table: dict[str, str] = {}
        for code, c in self.codes.items():
            for spelling in (code, c.pl, c.en, c.bdot10k, c.app, *c.aliases):
                if spelling is not None:
                    table.setdefault(fold(str(spelling)), code)
        return table


class FieldMapping(_Strict):
    """How one target field is filled: from a column (or the first non-empty of several), a constant or a template."""

    from_: str | list[str] | None = Field(default=None, alias="from")
    value: Any = None
    template: str | None = None
    values: dict[str, Any] | None = None
    default: Any = None

    @model_validator(mode="after")
    def _one_source(self) -> FieldMapping:
        given = [k for k in ("from_", "value", "template") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of from, value or template")
        if self.values is not None and self.from_ is None:
            raise ValueError("values translates a source column: it needs from")
        return self

    @property
    def columns(self) -> list[str]:
        if self.from_ is None:
            return []
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


class SourceOptions(_Strict):
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None


class Mapping(_Strict):
    """A city's or a source model's mapping onto one theme."""

    theme: str
    source: SourceOptions = SourceOptions()
    id: str | None = None
    fields: dict[str, FieldMapping] = {}

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, fields: Any) -> Any:
        # `name: NAZWA` is short for `name: {from: NAZWA}`.
        if isinstance(fields, dict):
            return {k: {"from": v} if isinstance(v, (str, list)) else v for k, v in fields.items()}
        return fields


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration file, located by key path."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = Path(self.file)
        if where.is_absolute() and where.is_relative_to(Path.cwd()):
            where = where.relative_to(Path.cwd())
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def fold(text: str) -> str:
    """Case- and space-insensitive form used to compare source values with codes and labels."""
    return " ".join(str(text).strip().lower().split())


def read_yaml(path: Path, problems: list[Problem]) -> Any:
    """Parse a YAML file, recording a syntax error as a problem instead of raising."""
    try:
        # libyaml's C loader: the code lists are long, and the pure-Python one took a second for them all
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except FileNotFoundError:
        problems.append(Problem(str(path), "", "file not found"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problems.append(Problem(str(path), where, f"invalid YAML: {getattr(exc, 'problem', exc)}"))
    return None


def parse(model: type[BaseModel], data: Any, path: Path, problems: list[Problem]) -> Any:
    """Validate data against a model, recording each pydantic error with its key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"] if p not in ("function-after[_one_source(), FieldMapping]",))
            problems.append(Problem(str(path), loc.replace("from_", "from"), e["msg"].removeprefix("Value error, ")))
    return None


@dataclass
class Registry:
    """Every schema and code list under config/, plus the problems found reading them."""

    root: Path
    schemas: dict[str, Schema]
    codelists: dict[str, Codelist]
    problems: list[Problem]
    rasters: dict[str, RasterSchema] = field(default_factory=dict)

    def schema(self, theme: str) -> Schema:
        """The schema of a theme, or a ConfigError that lists the known themes."""
        if theme in self.rasters:
            raise ConfigError(f"{theme} is a raster theme", f"load it with `sdi load-raster PATH --theme {theme}`")
        if theme not in self.schemas:
            raise ConfigError(f"unknown theme {theme!r}", f"use one of: {', '.join(sorted(self.schemas))}")
        return self.schemas[theme]

    def raster(self, theme: str) -> RasterSchema:
        """The schema of a raster theme, or a ConfigError that lists the raster themes."""
        if theme not in self.rasters:
            raise ConfigError(f"unknown raster theme {theme!r}", f"use one of: {', '.join(sorted(self.rasters))}")
        return self.rasters[theme]

    def codelist_for(self, field: SchemaField) -> Codelist | None:
        return self.codelists.get(field.codelist) if field.codelist else None


@lru_cache(maxsize=8)
def _registry(root: Path) -> Registry:
    problems: list[Problem] = []
    codelists = _load_all(root / "codelists", Codelist, problems)
    schemas = _load_all(root / "schemas", Schema, problems)
    rasters = {k: v for k, v in schemas.items() if isinstance(v, RasterSchema)}
    schemas = {k: v for k, v in schemas.items() if not isinstance(v, RasterSchema)}
    for theme, schema in schemas.items():
        for name, f in schema.fields.items():
            if f.codelist and f.codelist not in codelists:
                problems.append(
                    Problem(
                        str(root / "schemas" / f"{theme}.yaml"),
                        f"fields.{name}.codelist",
                        f"no code list {f.codelist!r} in {root / 'codelists'}",
                    )
                )
    return Registry(root, schemas, codelists, problems, rasters)


def registry(settings: Settings | None = None) -> Registry:
    """The schemas and code lists of the configured config/ folder (read once per process)."""
    return _registry((settings or get_settings()).config_dir.resolve())


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def restricted_themes(settings: Settings | None = None) -> set[str]:
    """The themes marked `access: restricted`: the API serves them only to holders of a token."""
    known = registry(settings)
    themes: dict[str, Schema | RasterSchema] = {**known.schemas, **known.rasters}
    return {theme for theme, schema in themes.items() if schema.access == "restricted"}


def _load_all(folder: Path, model: type[BaseModel], problems: list[Problem]) -> dict[str, Any]:
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        data = read_yaml(path, problems)
        kind = RasterSchema if model is Schema and isinstance(data, dict) and data.get("kind") == "raster" else model
        obj = parse(kind, data, path, problems)
        if obj is None:
            continue
        if obj.id != path.stem:
            problems.append(Problem(str(path), "id", f"{obj.id!r} differs from the file name {path.stem!r}"))
        found[obj.id] = obj
    return found
