"""Output encoding of pygeoapi's HTML pages: data never becomes markup or script (pygeoapi 0.21: the version
check is sdi.server.pygeoapi_compat's, which calls install()).

pygeoapi 0.21 renders its pages in `pygeoapi.util.render_j2_template`, which builds a new Jinja
`Environment` per page and registers `to_json`, a bare `json.dumps`, that the templates print unescaped
into `<script>` blocks (`{{ data | to_json | safe }}`): a feature named `</script><img onerror=…>` closed
the script and ran. Three things are replaced here, by name, in pygeoapi.util:

- `to_json` escapes `<`, `>`, `&` and `'` as \\u003c etc.: still the same JSON, but inert in HTML and JS;
- `Environment` reads sdi's own templates first (sdi/server/templates: the item popups built as text, not HTML)
  and gives every `<script` tag of a template, at load time, the response's CSP nonce, so that only the
  templates' own scripts run, never one that data brought in;
- `content_security_policy` is the header sent with every response (sdi.server.wsgi).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import jinja2
from flask import g, has_request_context
from pygeoapi import util as pygeoapi_util

from sdi.server import labels

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Every script, stylesheet and font comes from sdi itself (sdi/server/static/vendor, issue 20): no CDN host.
# img-src keeps https: because server.yaml may name a tile server for the background map.
_POLICY = (
    "default-src 'self'; script-src 'self' {nonce}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
_JS_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)
_original_to_json = pygeoapi_util.to_json


def to_json(dict_: dict, pretty: bool = False) -> str:
    """pygeoapi's to_json, with the characters that could end a <script> or an attribute escaped."""
    # Outside strings JSON has none of these characters, so escaping them everywhere changes no value.
    return _original_to_json(dict_, pretty).translate(_JS_UNSAFE)


def csp_nonce() -> str:
    """This response's nonce for the templates' own scripts: new for every request."""
    if not has_request_context():
        return ""
    if "sdi_csp_nonce" not in g:
        g.sdi_csp_nonce = secrets.token_urlsafe(18)
    return g.sdi_csp_nonce


def content_security_policy() -> str:
    """The Content-Security-Policy of this response: scripts only from this host and the templates."""
    nonce = g.get("sdi_csp_nonce") if has_request_context() else None
    return _POLICY.format(nonce=f"'nonce-{nonce}'" if nonce else "")


class _NonceLoader(jinja2.BaseLoader):
    """sdi's templates before pygeoapi's; each template's own `<script` tags get the nonce as they load."""

    def __init__(self, fallback: jinja2.BaseLoader | None):
        self.inner = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(TEMPLATES)), *([fallback] if fallback else [])])

    def get_source(self, environment, template):
        source, filename, uptodate = self.inner.get_source(environment, template)
        # In the template source, before any data is rendered: a tag that data brings gets no nonce.
        return _SCRIPT_TAG.sub('<script nonce="{{ sdi_csp_nonce() }}"', source), filename, uptodate


class _Environment(jinja2.Environment):
    def __init__(self, *args, loader=None, **kwargs):
        super().__init__(*args, loader=_NonceLoader(loader), **kwargs)
        self.globals["sdi_csp_nonce"] = csp_nonce
        self.globals.update(labels.GLOBALS)  # field titles, code-list labels, names (sdi/server/labels.py)


def install() -> None:
    """Put the escaping to_json and the nonce-giving Environment where render_j2_template looks them up."""
    pygeoapi_util.to_json = to_json
    pygeoapi_util.Environment = _Environment
