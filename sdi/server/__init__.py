"""The server: what `sdi serve` runs, and nothing of the loader.

publish writes pygeoapi's configuration from the catalogue; serving supervises nginx (front) and gunicorn;
wsgi, provider, tiles, coverage, access, cql*, html, limits and openapi run inside the API's read-only
workers.
"""
