"""Placement's grenade-style resources (prefixed with roles/common/files/ffulab_resources.py).

Resource providers with inventories, traits and an aggregate, and consumers' allocations against them
(roles/placement/defaults/main.yml: placement_resources), made before the FFU; after it every provider,
inventory, trait, aggregate, allocation and usage is compared with the spec. UUIDs derive from the lab's
seed, so create and verify name the same objects.
"""

MICROVERSION = "1.36"
"""Placement 11 (2024.1) ... 14 (2025.2) all speak it: consumer generations, GET /allocations project."""


class Placement:
    def __init__(self, spec: dict, create: bool):
        self.spec, self.create, self.seed = spec, create, spec["seed"]
        self.session = admin_session(spec)
        self.url = spec["placement_url"].rstrip("/")
        self.headers = {"OpenStack-API-Version": f"placement {MICROVERSION}"}
        self.project = self.session.get_project_id()
        self.user = self.session.get_user_id()

    def call(self, method: str, path: str, body: dict | None = None, ok=(200, 201, 204)) -> dict:
        answer = request(self.session, method, f"{self.url}{path}", body, ok, headers=self.headers)
        return answer.json() if answer.text else {}

    def uuid(self, kind: str, name: str) -> str:
        return stable_uuid(self.seed, kind, name)

    def trait(self, name: str) -> str:
        answer = self.session.request(
            f"{self.url}/traits/{name}", "GET", headers=self.headers, raise_exc=False
        )
        if answer.status_code == 204:
            return "ok"
        if not self.create:
            raise Missing("not a trait of placement")
        self.call("PUT", f"/traits/{name}")
        return "created"

    def provider(self, entry: dict) -> str:
        rp = self.uuid("resource_provider", entry["name"])
        status = "ok"
        try:
            found = self.call("GET", f"/resource_providers/{rp}")
        except Missing:
            if not self.create:
                raise
            found = self.call("POST", "/resource_providers", {"name": entry["name"], "uuid": rp})
            status = "created"
        if found["name"] != entry["name"]:
            raise Failed(f"named {found['name']!r}")
        wanted = {
            rc: {"total": inv["total"], **{k: v for k, v in inv.items() if k != "total"}}
            for rc, inv in entry["inventories"].items()
        }
        inventories = self.call("GET", f"/resource_providers/{rp}/inventories")
        have = {
            rc: {k: inv[k] for k in wanted[rc]}
            for rc, inv in inventories["inventories"].items()
            if rc in wanted
        }
        if have != wanted or set(inventories["inventories"]) != set(wanted):
            if not self.create:
                raise Failed(f"inventories are {inventories['inventories']}, expected {wanted}")
            body = {
                "inventories": wanted,
                "resource_provider_generation": inventories["resource_provider_generation"],
            }
            self.call("PUT", f"/resource_providers/{rp}/inventories", body)
            status = "updated" if status == "ok" else status
        for kind, key, wanted_values in (
            ("traits", "traits", sorted(entry["traits"])),
            ("aggregates", "aggregates", [self.uuid("aggregate", self.spec["resources"]["aggregate"])]),
        ):
            current = self.call("GET", f"/resource_providers/{rp}/{kind}")
            if sorted(current[key]) != sorted(wanted_values):
                if not self.create:
                    raise Failed(f"{kind} are {sorted(current[key])}, expected {sorted(wanted_values)}")
                body = {
                    key: wanted_values,
                    "resource_provider_generation": current["resource_provider_generation"],
                }
                self.call("PUT", f"/resource_providers/{rp}/{kind}", body)
                status = "updated" if status == "ok" else status
        return status

    def consumer(self, entry: dict) -> str:
        consumer = self.uuid("consumer", entry["name"])
        wanted = {
            self.uuid("resource_provider", provider): {"resources": resources}
            for provider, resources in entry["allocations"].items()
        }
        found = self.call("GET", f"/allocations/{consumer}")
        have = {rp: {"resources": alloc["resources"]} for rp, alloc in found.get("allocations", {}).items()}
        if have == wanted and found.get("project_id") == self.project:
            return "ok"
        if not self.create:
            if not have:
                raise Missing("no allocations")
            raise Failed(f"allocations are {have} (project {found.get('project_id')}), expected {wanted}")
        body = {
            "allocations": wanted,
            "project_id": self.project,
            "user_id": self.user,
            "consumer_generation": found.get("consumer_generation"),
        }
        self.call("PUT", f"/allocations/{consumer}", body)
        return "created" if not have else "updated"

    def usages(self, entry: dict) -> str:
        rp = self.uuid("resource_provider", entry["name"])
        wanted: dict[str, int] = {}
        for consumer in self.spec["resources"]["consumers"]:
            for rc, amount in consumer["allocations"].get(entry["name"], {}).items():
                wanted[rc] = wanted.get(rc, 0) + amount
        usages = {
            rc: n for rc, n in self.call("GET", f"/resource_providers/{rp}/usages")["usages"].items() if n
        }
        if usages != wanted:
            raise Failed(f"usages are {usages}, expected {wanted}")
        return "ok"


def items(spec: dict, create: bool):
    placement = Placement(spec, create)
    resources = spec["resources"]
    for name in resources["traits"]:
        yield "trait", name, lambda name=name: placement.trait(name)
    for entry in resources["providers"]:
        yield "resource_provider", entry["name"], lambda entry=entry: placement.provider(entry)
    for entry in resources["consumers"]:
        yield "allocation", entry["name"], lambda entry=entry: placement.consumer(entry)
    if not create:
        for entry in resources["providers"]:
            yield "usage", entry["name"], lambda entry=entry: placement.usages(entry)


if __name__ == "__main__":
    main("placement", items)
