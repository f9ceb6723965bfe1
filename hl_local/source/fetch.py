"""Fetching a bundle or its source map from the app's own dev server: loopback addresses only.

Only with `--fetch-source-maps`. Plain http on 127.0.0.0/8, ::1 or `localhost`, which is connected to
as 127.0.0.1: no name is ever looked up (/etc/hosts or DNS could point "localhost" elsewhere). No
redirects are followed, 2 s timeout, at most the caller's byte limit.
"""

from __future__ import annotations

import http.client
import ipaddress
import urllib.parse

FETCH_TIMEOUT_S = 2.0


def loopback_address(url: str) -> tuple[str, int] | str:
    """(IP, port) to connect to for `url`, or why it is refused: plain http on a loopback address only."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        return f"{url[:200]} is not plain http on this machine"
    host = parts.hostname or ""
    if host == "localhost":
        ip = "127.0.0.1"  # never resolved: /etc/hosts or DNS could point "localhost" elsewhere
    else:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return f"{host} is not a loopback address (only 127.0.0.0/8, ::1 and localhost are asked)"
        if not address.is_loopback:
            return f"{host} is not a loopback address (only 127.0.0.0/8, ::1 and localhost are asked)"
        ip = str(address)
    try:
        port = parts.port or 80
    except ValueError:
        return f"{url[:200]} has no valid port"
    return ip, port


def fetch_loopback(url: str, max_bytes: int) -> tuple[bytes, dict[str, str]] | str:
    """GET `url` from a loopback address: the body and lower-cased headers, or why not."""
    address = loopback_address(url)
    if isinstance(address, str):
        return f"not fetched: {address}"
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(address[0], address[1], timeout=FETCH_TIMEOUT_S)
    try:
        connection.request("GET", target, headers={"Host": parts.netloc, "User-Agent": "hl-local"})
        response = connection.getresponse()
        if response.status != 200:  # redirects included: never followed
            return f"{url[:200]} answered {response.status}"
        body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            return f"{url[:200]} is over {max_bytes:,} bytes"
        return body, {k.lower(): v for k, v in response.getheaders()}
    except (OSError, http.client.HTTPException) as exc:
        return f"{url[:200]} could not be fetched: {exc}"
    finally:
        connection.close()
