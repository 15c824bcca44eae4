"""The grenade-style resources runner every service's resources script is prefixed with.

A service's script (roles/<svc>/files/<svc>_resources.py) defines ``items(spec, create)``: an iterable
of (kind, name, check) where ``check()`` makes the item (create) or compares it (verify) and returns
ok, created or updated, raising Missing or Failed. This runner prints one line per item,
``ffulab-resource: KIND NAME STATUS [WHY]`` (ffulab/deploy/resources.py reads them), and
``ffulab-changed:`` for each change, and exits 1 if any item failed. It runs on the undercloud with the
openstackclient venv's Python, fed on stdin: one process per action, since under TCG a Python start
costs seconds; it talks to the APIs through keystoneauth sessions. Never prints a password or a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable

STARTED = time.monotonic()
from keystoneauth1 import session as ks_session  # noqa: E402  (timed: what costs seconds under TCG)
from keystoneauth1.identity import v3  # noqa: E402

IMPORTED = time.monotonic() - STARTED
SUCCESS = ("ok", "created", "updated")
Check = Callable[[], str]


class Missing(Exception):
    """The item, or one it depends on, is not there."""


class Failed(Exception):
    """The item is there but not as the spec says, or does not work."""


def secret(seed: str, kind: str, name: str) -> str:
    """An item's password or secret: HMAC-SHA256 of its kind and name under the lab's seed."""
    return hmac.new(seed.encode(), f"{kind}:{name}".encode(), hashlib.sha256).hexdigest()[:32]


def stable_uuid(seed: str, kind: str, name: str) -> str:
    """An item's UUID, the same at create and verify, different in every lab."""
    return str(
        uuid.UUID(hmac.new(seed.encode(), f"uuid:{kind}:{name}".encode(), hashlib.sha256).hexdigest()[:32])
    )


def admin_session(spec: dict) -> ks_session.Session:
    """The overcloud admin's session (project admin), from the spec's identity URL and password."""
    auth = v3.Password(
        auth_url=spec["auth_url"],
        username="admin",
        password=spec["admin_password"],
        user_domain_name="Default",
        project_name="admin",
        project_domain_name="Default",
    )
    return ks_session.Session(auth=auth)


def request(session: ks_session.Session, method: str, url: str, body=None, ok=(200, 201, 204), **kwargs):
    """One API call; a 404 the caller did not expect is Missing, any other unexpected status Failed."""
    answer = session.request(url, method, json=body, raise_exc=False, **kwargs)
    if answer.status_code == 404 and 404 not in ok:
        raise Missing(f"{method} {url}: 404")
    if answer.status_code not in ok:
        raise Failed(f"{method} {url}: HTTP {answer.status_code} {answer.text[:200]}")
    return answer


def differences(found: dict, wanted: dict) -> dict:
    return {key: value for key, value in wanted.items() if found.get(key) != value}


def describe(found: dict, wrong: dict) -> str:
    return ", ".join(f"{key} is {found.get(key)!r}, expected {value!r}" for key, value in wrong.items())


def run(service: str, action: str, checks: Iterable[tuple[str, str, Check]]) -> int:
    """Check each item; one line each; 1 if any failed."""
    print(f"ffulab-step: keystoneauth import {IMPORTED:.3f}")
    mark, failed = time.monotonic(), 0
    for kind, name, check in checks:
        try:
            status = check()
        except Missing as exc:
            status = f"MISSING {exc}"
        except Failed as exc:
            status = f"FAILED {exc}"
        except Exception as exc:  # an API or connection error fails this item; the others still run
            status = f"FAILED {type(exc).__name__}: {exc}"
        status = " ".join(status.split())[:300]
        print(f"ffulab-resource: {kind} {name} {status}")
        if status in ("created", "updated"):
            print(f"ffulab-changed: {service} {kind} {name} {status}")
        failed += status not in SUCCESS
    print(f"ffulab-step: {service} resources {action} {time.monotonic() - mark:.3f}")
    return 1 if failed else 0


def main(service: str, items: Callable[[dict, bool], Iterable[tuple[str, str, Check]]]) -> None:
    """``python - create|verify SPEC.json``: the service's items, made or verified."""
    action, spec_file = sys.argv[1:3]
    with open(spec_file) as handle:
        spec = json.load(handle)
    sys.exit(run(service, action, items(spec, action == "create")))
