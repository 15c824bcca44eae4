"""Keystone's grenade-style resources: created before the FFU, verified after it (prefixed with
roles/common/files/ffulab_resources.py, the runner every service's resources script shares).

SPEC (roles/keystone/defaults/main.yml: keystone_resources_spec) names every item; each user's password
and each application credential's secret derive from the lab's seed, so create and verify agree. Items
are found in a few listings, not one request each: under TCG a request to keystone costs seconds.
"""

from functools import partial

from keystoneauth1 import exceptions


def each(
    kind: str, entries: list[dict], check: Callable[[dict], str], name: Callable[[dict], str] | None = None
) -> Iterable[tuple[str, str, Check]]:
    for entry in entries:
        yield kind, name(entry) if name else entry["name"], partial(check, entry)


class Keystone:
    """Keystone's v3 API as one principal; ``ids`` keeps the id of what was found or made by name."""

    def __init__(self, url: str, auth: v3.BaseAuth, create: bool, ids: dict[tuple[str, str], str]):
        self.url, self.create, self.ids = url, create, ids
        self.session = ks_session.Session(auth=auth)
        self.listings: dict[tuple, list[dict]] = {}

    def listing(self, path: str, **query: str) -> list[dict]:
        """Collection ``path`` (filtered by ``query``), fetched once: each request costs seconds when
        keystone runs under TCG, so items are found in a few listings, not one request each."""
        key = (path, *sorted(query.items()))
        if key not in self.listings:
            body = self.session.get(f"{self.url}/{path}", params=query).json()
            self.listings[key] = body[path.rsplit("/", 1)[-1]]
        return self.listings[key]

    def find(self, path: str, match: dict, **query: str) -> dict | None:
        """The first item of ``path`` (filtered by ``query``) whose attributes include ``match``."""
        listed = self.listing(path, **query)
        return next((item for item in listed if all(item.get(k) == v for k, v in match.items())), None)

    def id_of(self, kind: str, name: str) -> str:
        """The id of a domain or role (looked up once), or of an item this run found or made."""
        if (kind, name) not in self.ids and kind in ("domain", "role"):
            found = self.find(f"{kind}s", {"name": name})
            if found:
                self.ids[kind, name] = found["id"]
        if (kind, name) not in self.ids:
            raise Missing(f"its {kind} {name} is missing")
        return self.ids[kind, name]

    def ensure(
        self, kind: str, name: str, found: dict | None, wanted: dict, on_create: dict | None = None
    ) -> str:
        """Create the item (``wanted`` and ``on_create``) or fix what differs from ``wanted``; when
        verifying, say what is missing or wrong. Its collection is ``<kind>s``."""
        if found is None:
            if not self.create:
                raise Missing("not found")
            body = {kind: {**wanted, **(on_create or {})}}
            self.ids[kind, name] = self.session.post(f"{self.url}/{kind}s", json=body).json()[kind]["id"]
            return "created"
        self.ids[kind, name] = found["id"]
        wrong = differences(found, wanted)
        if not wrong:
            return "ok"
        if not self.create:
            raise Failed(describe(found, wrong))
        self.session.patch(f"{self.url}/{kind}s/{found['id']}", json={kind: wrong})
        return "updated"

    def ensure_link(self, path: str) -> str:
        """A group membership or a role assignment: HEAD says whether it is there, PUT makes it."""
        if self.session.head(f"{self.url}/{path}", raise_exc=False).status_code in (200, 204):
            return "ok"
        if not self.create:
            raise Missing("not found")
        self.session.put(f"{self.url}/{path}")
        return "created"


class Resources:
    """The spec's items in dependency order, each checked (and, when creating, made) by one method."""

    def __init__(self, spec: dict, create: bool):
        self.spec, self.create = spec, create
        self.url, self.seed, self.region = spec["auth_url"], spec["seed"], spec["region"]
        self.ids: dict[tuple[str, str], str] = {}
        admin = v3.Password(
            auth_url=self.url,
            username="admin",
            password=spec["admin_password"],
            user_domain_id="default",
            project_name="admin",
            project_domain_id="default",
        )  # what keystone-manage bootstrap made (roles/keystone/templates/keystone.sh.j2)
        self.admin = Keystone(self.url, admin, create, self.ids)
        self.users = {user["name"]: user for user in spec["resources"].get("users", [])}

    def items(self) -> Iterable[tuple[str, str, Check]]:
        """(kind, name, check) for every item, in the order keystone needs them made."""
        res = self.spec["resources"]
        groups, services = res.get("groups", []), res.get("services", [])
        credentials = res.get("application_credentials", [])
        yield from each("domain", res.get("domains", []), self.domain)
        yield from each("project", res.get("projects", []), self.project)
        yield from each("role", res.get("roles", []), self.role)
        yield from each("group", groups, self.group)
        yield from each("user", list(self.users.values()), self.user)
        members = [{"group": group["name"], "user": user} for group in groups for user in group["members"]]
        yield from each("group_member", members, self.member, lambda m: f"{m['group']}/{m['user']}")
        yield from each(
            "role_assignment",
            res.get("role_assignments", []),
            self.assignment,
            lambda a: f"{a.get('user') or a['group']}/{a['project']}/{a['role']}",
        )
        yield from each("service", services, self.service)
        endpoints = [
            {"service": service["name"], "interface": interface, "url": url}
            for service in services
            for interface, url in sorted(service["endpoints"].items())
        ]
        yield from each("endpoint", endpoints, self.endpoint, lambda e: f"{e['service']}/{e['interface']}")
        yield from each("application_credential", credentials, self.credential)
        if not self.create:  # after the upgrade: whoever could log in still can, with the same roles
            logins = [user for user in self.users.values() if "token" in user]
            yield from each(
                "token", logins, self.user_token, lambda u: f"{u['name']}@{u['token']['project']}"
            )
            yield from each(
                "token", credentials, self.credential_token, lambda c: f"{c['name']}@{c['project']}"
            )

    # --- identity: found by name (in their domain)

    def domain(self, entry: dict) -> str:
        wanted = {"name": entry["name"], "description": entry["description"], "enabled": True}
        return self.admin.ensure(
            "domain", entry["name"], self.admin.find("domains", {"name": entry["name"]}), wanted
        )

    def role(self, entry: dict) -> str:
        wanted = {"name": entry["name"], "description": entry["description"]}
        return self.admin.ensure(
            "role", entry["name"], self.admin.find("roles", {"name": entry["name"]}), wanted
        )

    def in_domain(self, kind: str, entry: dict, extra: dict, on_create: dict | None = None) -> str:
        domain_id = self.admin.id_of("domain", entry["domain"])
        wanted = {"name": entry["name"], "domain_id": domain_id, "description": entry["description"], **extra}
        found = self.admin.find(f"{kind}s", {"name": entry["name"]}, domain_id=domain_id)
        return self.admin.ensure(kind, entry["name"], found, wanted, on_create)

    def project(self, entry: dict) -> str:
        return self.in_domain("project", entry, {"enabled": True})

    def group(self, entry: dict) -> str:
        return self.in_domain("group", entry, {})

    def user(self, entry: dict) -> str:
        """Its password is set when it is made and never changed after: verify logs in with it."""
        extra = {
            "enabled": True,
            "email": entry["email"],
            "default_project_id": self.admin.id_of("project", entry["default_project"]),
        }
        return self.in_domain("user", entry, extra, {"password": secret(self.seed, "user", entry["name"])})

    def member(self, entry: dict) -> str:
        group, user = self.admin.id_of("group", entry["group"]), self.admin.id_of("user", entry["user"])
        return self.admin.ensure_link(f"groups/{group}/users/{user}")

    def assignment(self, entry: dict) -> str:
        actor = f"users/{self.admin.id_of('user', entry['user'])}" if "user" in entry else None
        actor = actor or f"groups/{self.admin.id_of('group', entry['group'])}"
        project = self.admin.id_of("project", entry["project"])
        return self.admin.ensure_link(
            f"projects/{project}/{actor}/roles/{self.admin.id_of('role', entry['role'])}"
        )

    # --- the catalog

    def service(self, entry: dict) -> str:
        wanted = {"name": entry["name"], "type": entry["type"], "description": entry["description"]}
        found = self.admin.find("services", {"name": entry["name"]}, type=entry["type"])
        return self.admin.ensure("service", entry["name"], found, {**wanted, "enabled": True})

    def endpoint(self, entry: dict) -> str:
        service = self.admin.id_of("service", entry["service"])
        where = {"service_id": service, "interface": entry["interface"], "region_id": self.region}
        found = self.admin.find("endpoints", where, service_id=service)
        wanted = {**where, "url": entry["url"], "enabled": True}
        return self.admin.ensure("endpoint", f"{entry['service']}/{entry['interface']}", found, wanted)

    # --- what users do with their passwords

    def user_auth(self, name: str, project: str | None) -> v3.Password:
        scope = {"project_id": self.admin.id_of("project", project)} if project else {}
        return v3.Password(
            auth_url=self.url,
            username=name,
            password=secret(self.seed, "user", name),
            user_domain_id=self.admin.id_of("domain", self.users[name]["domain"]),
            **scope,
        )

    def credential(self, entry: dict) -> str:
        """An application credential, made by its user (keystone's policy: the owner) in its project;
        keystone cannot change one, so a wrong one is a failure even when creating."""
        owner = Keystone(self.url, self.user_auth(entry["user"], entry["project"]), self.create, self.ids)
        path = f"users/{self.admin.id_of('user', entry['user'])}/application_credentials"
        key = ("application_credential", entry["name"])
        found = owner.find(path, {"name": entry["name"]})
        if found is None:
            if not self.create:
                raise Missing("not found")
            body = {
                "name": entry["name"],
                "description": entry["description"],
                "roles": [{"name": role} for role in entry["roles"]],
                "secret": secret(self.seed, "application_credential", entry["name"]),
                "unrestricted": False,
            }
            made = owner.session.post(f"{self.url}/{path}", json={"application_credential": body}).json()
            self.ids[key] = made["application_credential"]["id"]
            return "created"
        self.ids[key] = found["id"]
        wanted = {
            "description": entry["description"],
            "project_id": self.admin.id_of("project", entry["project"]),
        }
        if wrong := differences(found, wanted):
            raise Failed(describe(found, wrong))
        roles = {role["name"] for role in found["roles"]}
        if not set(entry["roles"]) <= roles <= self.implied(entry["roles"]):
            raise Failed(
                f"roles are {sorted(roles)}, expected {sorted(entry['roles'])} and the roles they imply"
            )
        return "ok"

    def implied(self, roles: list[str]) -> set[str]:
        """``roles`` and every role they imply: keystone 27 lists a credential's implied roles too
        (member -> reader), keystone 25 only the ones it was made with."""
        rules = self.admin.listing("role_inferences")
        graph = {rule["prior_role"]["name"]: [role["name"] for role in rule["implies"]] for rule in rules}
        closure: set[str] = set()
        todo = list(roles)
        while todo:
            role = todo.pop()
            if role not in closure:
                closure.add(role)
                todo += graph.get(role, [])
        return closure

    def token(self, auth: v3.BaseAuth, project: str, roles: list[str]) -> str:
        """A token from ``auth`` scoped to ``project`` with at least ``roles`` (implied ones count)."""
        access = auth.get_access(ks_session.Session())
        if access.project_id != self.admin.id_of("project", project):
            raise Failed(f"token scoped to project {access.project_name!r}, expected {project!r}")
        if missing := sorted(set(roles) - set(access.role_names)):
            raise Failed(
                f"token without role(s) {', '.join(missing)}: has {', '.join(sorted(access.role_names))}"
            )
        return "ok"

    def user_token(self, entry: dict) -> str:
        """A project-scoped token; if refused, an unscoped one tells a wrong password from a lost role."""
        name, login = entry["name"], entry["token"]
        try:
            return self.token(self.user_auth(name, login["project"]), login["project"], login["roles"])
        except exceptions.Unauthorized:
            try:
                self.user_auth(name, None).get_access(ks_session.Session())
            except exceptions.Unauthorized:
                raise Failed("keystone refuses its password") from None
            raise Failed(f"its password works, but it has no role on {login['project']} any more") from None

    def credential_token(self, entry: dict) -> str:
        auth = v3.ApplicationCredential(
            auth_url=self.url,
            application_credential_id=self.admin.id_of("application_credential", entry["name"]),
            application_credential_secret=secret(self.seed, "application_credential", entry["name"]),
        )
        return self.token(auth, entry["project"], entry["roles"])


if __name__ == "__main__":
    main("keystone", lambda spec, create: Resources(spec, create).items())
