"""The OpenAPI document pygeoapi generates, finished for sdi: self-contained and valid.

pygeoapi 0.21 points to the OGC building blocks on schemas.opengis.net (and one on GitHub). Offline,
as our machines and many city networks are, nothing can resolve those references, so validators and
test tools such as schemathesis cannot read the document. Every external reference is replaced by a
local one to a component written out in `openapi_ogc.yaml`. Code lists travel from provider fields as
`values`; in OpenAPI the keyword is `enum`.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from functools import cache
from importlib.resources import files

import yaml

from sdi.core.errors import ServeError

# External references point into a building block by its last path segment: a component of that
# name in openapi_ogc.yaml, of the kind the reference's path names (parameters, responses, schemas).
_KINDS = ("parameters", "responses", "schemas")


def finish(document: dict, hidden: AbstractSet[str] = frozenset(), processes: bool = False) -> dict:
    """The document with code lists as enums, every external $ref made local, and nothing of the hidden
    (restricted) collections: an anonymous reader of the API description must not learn they exist.
    processes: the analysis service answers /processes and /jobs (OGC API Processes), described here."""
    used: set[tuple[str, str]] = set()
    document = _localise(_enums(_without(document, hidden)), used)
    components = document.setdefault("components", {})
    ogc = _ogc_components()
    _processes(document, ogc, processes)
    for kind, name in sorted(used):
        ours = components.setdefault(kind, {})
        if name in ours and ours[name] != ogc[kind][name]:
            raise ServeError(
                f"pygeoapi already defines components/{kind}/{name} differently",
                "rename the component in sdi/server/openapi_ogc.yaml",
            )
        ours[name] = ogc[kind][name]
        # A local component may itself point to another one (an error response to the exception schema).
        for inner in _local_refs(ogc[kind][name]):
            components.setdefault(inner[0], {})[inner[1]] = ogc[inner[0]][inner[1]]
    components.setdefault("schemas", {}).setdefault("exception", ogc["schemas"]["exception"])
    _declare(document, ogc["sdiParameters"])
    return document


def _processes(document: dict, ogc: dict, served: bool) -> None:
    """pygeoapi 0.21 writes /jobs paths whatever is configured (with a DELETE, dismiss, sdi does not offer) and no
    /processes path for a process it does not run itself: ours replace them, or none where nothing answers."""
    paths = document.setdefault("paths", {})
    for path in [p for p in paths if p == "/jobs" or p.startswith(("/jobs/", "/processes"))]:
        del paths[path]
    if not served:
        return
    paths.update(ogc["processesPaths"])
    for kind, found in ogc["processesComponents"].items():
        document["components"].setdefault(kind, {}).update(found)


_ITEMS_EXTRA = ("filter", "filter-lang", "filter-crs", "datetime", "after", "resulttype")


def _declare(document: dict, ours: dict) -> None:
    """Every parameter the server honours declared, nothing it refuses (sdi.server.params checks the same).

    pygeoapi declares `vendorSpecificParameters` (any other name), which the API answers with a 400 as Part 1
    asks (/req/core/query-param-unknown); it leaves out the filter parameters, datetime (without a temporal
    extent), sdi's `after` and the token; and it has no path for a tileset's metadata.
    """
    parameters = document.setdefault("components", {}).setdefault("parameters", {})
    for name, definition in ours.items():
        parameters.setdefault(f"sdi-{name}", definition)
    paths = document.get("paths", {})
    for path, item in list(paths.items()):
        if path.startswith(("/processes", "/jobs")):
            continue  # the analysis service's: it reads a token from Authorization only
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            refs = [p for p in op.get("parameters", []) if not p.get("$ref", "").endswith("/vendorSpecificParameters")]
            names = {_name(p, parameters) for p in refs}
            wanted = ["access_token", *(_ITEMS_EXTRA if path.endswith("/items") and method == "get" else ())]
            refs += [{"$ref": f"#/components/parameters/sdi-{n}"} for n in wanted if n not in names]
            op["parameters"] = refs
        if path.endswith("/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"):
            paths.setdefault(path.rsplit("/", 3)[0], _tileset(item))
    parameters.pop("vendorSpecificParameters", None)
    tiles = document["components"].get("responses", {}).get("Tiles", {}).get("content", {}).get("application/json")
    if tiles is not None:
        # pygeoapi 0.21 documents a draft's `tileMatrixSetLinks` but answers with Tiles 1.0's `tilesets`
        tiles["schema"] = {
            "type": "object",
            "required": ["links", "tilesets"],
            "properties": {
                "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
                "tilesets": {"type": "array", "items": {"type": "object", "required": ["links"]}},
            },
        }


def _name(parameter: dict, components: dict) -> str | None:
    ref = parameter.get("$ref", "")
    return components.get(ref.rsplit("/", 1)[-1], {}).get("name") if ref else parameter.get("name")


def _tileset(tile: dict) -> dict:
    """The path of a tileset's metadata (OGC API Tiles, /req/tileset), beside the tile path pygeoapi writes."""
    op = tile.get("get", {})
    return {
        "get": {
            "summary": "the tileset: its tile matrix set, zoom levels and tile URL template",
            "tags": op.get("tags", []),
            "operationId": op.get("operationId", "tile") + "Tileset",
            "parameters": [
                {"$ref": "#/components/parameters/tileMatrixSetId"},
                {"$ref": "#/components/parameters/f"},
                {"$ref": "#/components/parameters/sdi-access_token"},
            ],
            "responses": {
                "200": {
                    "description": "the tileset metadata",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "404": {
                    "description": "no such collection or tile matrix set",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}},
                },
            },
        }
    }


def _without(document: dict, hidden: AbstractSet[str]) -> dict:
    prefixes = tuple(f"/collections/{theme}" for theme in hidden)
    paths = {
        p: v for p, v in document.get("paths", {}).items() if not any(p == x or p.startswith(x + "/") for x in prefixes)
    }
    tags = [t for t in document.get("tags", []) if t.get("name") not in hidden]
    return {**document, "paths": paths, "tags": tags}


def external_refs(document) -> list[str]:
    """Every $ref that leaves the document; none after finish()."""
    found: list[str] = []
    _walk(document, lambda ref: found.append(ref) if not ref.startswith("#") else None)
    return found


def _localise(node, used: set):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            kind, name = _target(ref)
            used.add((kind, name))
            return {**{k: v for k, v in node.items() if k != "$ref"}, "$ref": f"#/components/{kind}/{name}"}
        return {k: _localise(v, used) for k, v in node.items()}
    if isinstance(node, list):
        return [_localise(v, used) for v in node]
    return node


def _target(ref: str) -> tuple[str, str]:
    """(kind, name) of an external reference, e.g. ...ogcapi-features-1.yaml#/components/responses/Features
    or .../openapi/responses/NotFound.yaml; unknown targets are an error, found when serving starts."""
    path = ref.split("#", 1)[1] if "#" in ref else ref.rsplit(".", 1)[0]
    parts = [p for p in path.split("/") if p]
    kind, name = parts[-2], parts[-1]
    if kind not in _KINDS or name not in _ogc_components()[kind]:
        raise ServeError(
            f"no local copy of the OpenAPI building block {ref}",
            "add it to sdi/server/openapi_ogc.yaml (this pygeoapi version refers to a new one)",
        )
    return kind, name


def _local_refs(node) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    _walk(node, lambda ref: found.append(tuple(ref.split("/")[2:4])) if ref.startswith("#/components/") else None)
    return found


def _walk(node, visit) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            visit(node["$ref"])
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


@cache
def _ogc_components() -> dict:
    return yaml.safe_load(files("sdi.server").joinpath("openapi_ogc.yaml").read_text(encoding="utf-8"))


def _enums(node):
    """pygeoapi copies provider fields into the document as they are; a code list travels as `values`."""
    if isinstance(node, dict):
        node = {k: _enums(v) for k, v in node.items()}
        if "type" in node and isinstance(node.get("values"), list):
            node["enum"] = node.pop("values")
        return node
    if isinstance(node, list):
        return [_enums(v) for v in node]
    return node
