"""nginx, the one front of `sdi serve`: its configuration, written at each start, and its process.

gunicorn's sync workers answer one request at a time, so a client that sends its headers a byte every
few seconds holds a worker: two such clients stalled the API for 33 s. nginx reads whole requests before
it passes them on (and gives up on a slow header or body after 10 s), refuses bodies over 1 MB with a
JSON 413, serves pygeoapi's static files itself, and is where later services (catalogue, WMS, uploads)
are mounted beside the API, on the same host and port. No system nginx service is used: this nginx runs
in the foreground with its configuration, pid file and logs under $SDI_HOME/front.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from sdi.core.errors import ServeError
from sdi.server.host_user import HostUser

HEADER_TIMEOUT_S = 10
MAX_BODY = "1m"
# The access log has the path only ($uri): a query may carry a token, and nginx cannot mask it.
LOG_FORMAT = (
    '$remote_addr - [$time_local] "$request_method $uri $server_protocol" $status $body_bytes_sent $request_time'
)
_ERRORS = {
    413: ("PayloadTooLarge", "the request body is larger than 1 MB: send a smaller filter or file"),
    502: ("ServiceUnavailable", "the API is starting or restarting: try again in a few seconds"),
    504: ("GatewayTimeout", "the API took too long to answer: narrow the request (bbox, limit, filter)"),
}
_TYPES = {
    "text/css": "css",
    "application/javascript": "js",
    "image/png": "png",
    "image/svg+xml": "svg",
    "image/x-icon": "ico",
    "image/jpeg": "jpg jpeg",
    "image/gif": "gif",
    "font/woff2": "woff2",
    "application/json": "json",
}


def nginx_binary(search_path: str | None = None) -> str:
    """The nginx program, or a one-line error with the fix."""
    # A normal user's PATH on Debian has no /usr/sbin, where the package puts nginx.
    path = search_path or os.pathsep.join([os.defpath, "/usr/local/sbin", "/usr/sbin", "/sbin"])
    if search_path is None and (on_path := shutil.which("nginx")):
        path = os.pathsep.join([str(Path(on_path).parent), path])
    found = shutil.which("nginx", path=path)
    if not found:
        raise ServeError(
            "nginx is not installed (sdi serve runs it in front of the API)",
            "run `make setup`, which installs the Debian package nginx",
        )
    return found


def write_config(
    folder: Path,
    *,
    host: str,
    port: int,
    upstream: Path,
    run_dir: Path,
    static_dir: Path,
    timeout: int,
    user: HostUser | None,
    services: str = "",
) -> Path:
    """Write $SDI_HOME/front/nginx.conf for one `sdi serve`; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o750)  # its logs are the operator's, not the workers'
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    temp = "\n".join(
        f"    {kind}_temp_path {run_dir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    types = "\n".join(f"        {mime} {ext};" for mime, ext in _TYPES.items())
    errors = "\n".join(
        f"        error_page {code} @error{code};\n        location @error{code} {{ default_type "
        f"application/json; return {code} '{json.dumps({'code': c, 'description': d})}'; }}"
        for code, (c, d) in _ERRORS.items()
    )
    proxy = "\n".join(
        f"            {line};"
        for line in (
            "proxy_pass http://sdi_api",
            "proxy_set_header Host $http_host",
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for",
            "proxy_set_header X-Forwarded-Proto $scheme",
            "proxy_set_header X-Forwarded-Host $host",
            "proxy_set_header X-Forwarded-Port $server_port",
            f"proxy_read_timeout {timeout + 5}s",
            "proxy_buffering on",
            "proxy_request_buffering on",
            "proxy_intercept_errors off",
        )
    )
    text = f"""# Written by `sdi serve` at each start (sdi/server/front.py): edits here are lost.
{f"user {user.name} {user.name};" if user else "# user: the caller (sdi serve is not root)"}
worker_processes 2;
pid {folder / "nginx.pid"};
error_log stderr warn;  # read by sdi serve, which masks tokens in it
events {{ worker_connections 1024; }}

http {{
    types {{
{types}
    }}
    default_type application/octet-stream;
{temp}
    log_format sdi '{LOG_FORMAT}';
    access_log {folder / "access.log"} sdi;
    server_tokens off;
    # Slow clients are nginx's to wait for, not a worker's.
    client_header_timeout {HEADER_TIMEOUT_S}s;
    client_body_timeout {HEADER_TIMEOUT_S}s;
    send_timeout 30s;
    keepalive_timeout 15s;
    client_max_body_size {MAX_BODY};
    client_body_buffer_size {MAX_BODY};
    large_client_header_buffers 4 16k;  # long CQL2 filters in a URL

    upstream sdi_api {{ server unix:{upstream}; }}
    proxy_cache_path {run_dir / "tile_cache"} levels=1:2 keys_zone=sdi_tiles:10m max_size=1g inactive=1d
                     use_temp_path=off;

    server {{
        listen {listen};
{errors}

        location /static/ {{ alias {static_dir}/; expires 1h; }}

        # ---- the services beside the API (sdi/server/services.py), each by its own location blocks: ----
{services}
        # ---- end of the services ----

        # Vector tiles are built once per load: stored here, then revalidated with the API's ETag (a 304 costs
        # one catalogue query). Requests with a credential are neither served from nor stored in the cache.
        location ~ ^/collections/[^/]+/tiles/ {{
{proxy}
            proxy_cache sdi_tiles;
            proxy_cache_key $scheme$host$request_uri$http_accept;
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            # Stored for 1 s whatever the API tells browsers and CDNs, then revalidated: a new load shows at once.
            proxy_ignore_headers Cache-Control Expires;
            proxy_cache_valid 200 204 1s;
            proxy_cache_bypass $http_authorization $arg_access_token;
            proxy_no_cache $http_authorization $arg_access_token;
            add_header X-Cache-Status $upstream_cache_status always;
        }}

        location / {{
{proxy}
        }}
    }}
}}
"""
    path = folder / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def check(binary: str, config: Path) -> None:
    """`nginx -t`: a bad configuration or a taken port becomes one line, before anything is started."""
    done = subprocess.run(
        [binary, "-t", "-q", "-e", "stderr", "-p", str(config.parent), "-c", str(config)],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if "emerg" in line or "alert" in line] or [done.stderr]
        raise ServeError(f"nginx refuses its configuration: {lines[0].strip()}", f"see {config}")


def start_cmd(binary: str, config: Path) -> list[str]:
    """nginx in the foreground; its error log comes on stderr (a pipe that sdi serve reads and masks)."""
    return [binary, "-e", "stderr", "-p", str(config.parent), "-c", str(config), "-g", "daemon off;"]
