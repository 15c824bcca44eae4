"""Cinder's grenade-style resources (prefixed with roles/common/files/ffulab_resources.py).

A volume type with extra specs and a QoS spec associated to it, volumes with metadata (one of that
type, one of the default type, bootable), a snapshot and a volume made from it (roles/cinder/defaults/
main.yml: cinder_resources). Created in two stages around the data step on the volume node
(tasks/resources_create.yml): ``volumes`` (type, QoS, volumes), then ``snapshots`` (the snapshot of the
written volume, the volume made from it); verified together (``all``) after the FFU: status, size,
type, host, metadata, description, bootable flag, the snapshot's source, the QoS association.

A volume that goes to error is deleted at once: a volume without a host (service_uuid NULL) fails
``cinder-status upgrade check`` at every FFU step 9 after it.
"""

import time

WAIT_SECONDS = 900
"""How long a volume or snapshot may take to become available (rootwrap and LVM under TCG)."""
POLL_SECONDS = 3
DEFAULT_TYPE = "__DEFAULT__"


class Cinder:
    def __init__(self, spec: dict, create: bool):
        self.spec, self.create = spec, create
        self.session = admin_session(spec)
        self.url = spec["cinder_url"].rstrip("/")
        self.headers = {"OpenStack-API-Version": f"volume {spec['microversion']}"}
        self.resources = spec["resources"]
        self.ready = False

    def call(self, method: str, path: str, body: dict | None = None, ok=(200, 201, 202, 204)) -> dict:
        answer = request(self.session, method, f"{self.url}{path}", body, ok, headers=self.headers)
        return answer.json() if answer.text else {}

    # --- lookups by name (the API's IDs are cinder's: names are what create and verify share)

    def find_type(self, name: str) -> dict | None:
        types = self.call("GET", "/types?is_public=None")["volume_types"]
        return next((t for t in types if t["name"] == name), None)

    def find_qos(self, name: str) -> dict | None:
        return next((q for q in self.call("GET", "/qos-specs")["qos_specs"] if q["name"] == name), None)

    def find(self, kind: str, name: str) -> dict | None:
        """The volume or snapshot named ``name``; Failed when there are several."""
        found = [
            item
            for item in self.call("GET", f"/{kind}s/detail?name={name}")[f"{kind}s"]
            if item["name"] == name
        ]
        if len(found) > 1:
            raise Failed(f"{len(found)} {kind}s named {name}")
        return found[0] if found else None

    def wanted(self, kind: str, name: str) -> dict:
        found = self.find(kind, name)
        if found is None:
            raise Missing(f"no {kind} named {name}")
        return found

    def wait(self, kind: str, item: dict) -> dict:
        """The volume or snapshot once available; one in error is deleted, then Failed."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            item = self.call("GET", f"/{kind}s/{item['id']}")[kind]
            if item["status"] == "available":
                return item
            if item["status"].startswith("error"):
                self.call("DELETE", f"/{kind}s/{item['id']}")
                raise Failed(f"{kind} {item['id']} went to status {item['status']}: deleted it")
            if time.monotonic() > deadline:
                raise Failed(f"{kind} {item['id']} still {item['status']} after {WAIT_SECONDS} s")
            time.sleep(POLL_SECONDS)

    def mend(self, kind: str, found: dict, metadata: dict, wrong: dict, mends: dict) -> bool:
        """A volume's or snapshot's fields ``wrong`` and its ``metadata``: verify fails on a difference,
        create mends it (``mends``: field -> method, path under the item, body). True if it mended."""
        metadata_wrong = differences(found.get("metadata") or {}, metadata)
        if not (wrong or metadata_wrong):
            return False
        if not self.create:
            raise Failed(
                describe(found, wrong) or f"metadata: {describe(found.get('metadata') or {}, metadata_wrong)}"
            )
        path = f"/{kind}s/{found['id']}"
        if metadata_wrong:
            self.call("POST", f"{path}/metadata", {"metadata": metadata})
        for field in wrong:
            method, under, body = mends[field]
            self.call(method, path + under, body)
        return True

    def backend_ready(self) -> None:
        """Before the first volume: the backend's pool is known to the scheduler (the volume service
        initialized its driver and sent its stats), or the scheduler puts the volume in error."""
        if self.ready:
            return
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            pools = [pool["name"] for pool in self.call("GET", "/scheduler-stats/get_pools")["pools"]]
            if any(name.startswith(self.spec["host"] + "#") for name in pools):
                self.ready = True
                return
            if time.monotonic() > deadline:
                raise Failed(
                    f"the scheduler knows no pool of {self.spec['host']} after {WAIT_SECONDS} s: {pools}"
                )
            time.sleep(POLL_SECONDS)

    # --- the items

    def volume_type(self, entry: dict) -> str:
        status = "ok"
        found = self.find_type(entry["name"])
        if found is None:
            if not self.create:
                raise Missing("no volume type of that name")
            body = {
                "name": entry["name"],
                "description": entry["description"],
                "os-volume-type-access:is_public": True,
                "extra_specs": entry["extra_specs"],
            }
            found = self.call("POST", "/types", {"volume_type": body})["volume_type"]
            status = "created"
        if found.get("description") != entry["description"]:
            if not self.create:
                raise Failed(describe(found, {"description": entry["description"]}))
            self.call("PUT", f"/types/{found['id']}", {"volume_type": {"description": entry["description"]}})
            status = "updated" if status == "ok" else status
        specs = self.call("GET", f"/types/{found['id']}/extra_specs")["extra_specs"]
        wrong = differences(specs, entry["extra_specs"])
        if wrong:
            if not self.create:
                raise Failed(f"extra specs: {describe(specs, wrong)}")
            self.call("POST", f"/types/{found['id']}/extra_specs", {"extra_specs": entry["extra_specs"]})
            status = "updated" if status == "ok" else status
        return status

    def qos(self, entry: dict) -> str:
        status = "ok"
        wanted = {"consumer": entry["consumer"], **entry["specs"]}
        found = self.find_qos(entry["name"])
        if found is None:
            if not self.create:
                raise Missing("no QoS spec of that name")
            found = self.call("POST", "/qos-specs", {"qos_specs": {"name": entry["name"], **wanted}})[
                "qos_specs"
            ]
            status = "created"
        have = {"consumer": found.get("consumer"), **(found.get("specs") or {})}
        wrong = differences(have, wanted)
        if wrong:
            if not self.create:
                raise Failed(describe(have, wrong))
            self.call("PUT", f"/qos-specs/{found['id']}", {"qos_specs": wanted})
            status = "updated" if status == "ok" else status
        return status

    def qos_association(self, qos_name: str, type_name: str) -> str:
        qos, volume_type = self.find_qos(qos_name), self.find_type(type_name)
        if qos is None or volume_type is None:
            raise Missing(f"QoS spec {qos_name} or volume type {type_name} missing")
        associations = self.call("GET", f"/qos-specs/{qos['id']}/associations")["qos_associations"]
        if any(a["id"] == volume_type["id"] for a in associations):
            return "ok"
        if not self.create:
            raise Failed(f"associated with {[a['name'] for a in associations]}, not volume type {type_name}")
        self.call("GET", f"/qos-specs/{qos['id']}/associate?vol_type_id={volume_type['id']}")
        return "created"

    def volume(self, entry: dict) -> str:
        status = "ok"
        found = self.find("volume", entry["name"])
        snapshot = self.wanted("snapshot", entry["snapshot"]) if entry.get("snapshot") else None
        if found is None:
            if not self.create:
                raise Missing("no volume of that name")
            body = {
                "name": entry["name"],
                "size": entry["size"],
                "description": entry["description"],
                "metadata": entry["metadata"],
            }
            self.backend_ready()
            if snapshot is not None:
                body["snapshot_id"] = snapshot["id"]  # the type is the snapshot's volume's
            elif entry.get("type"):
                body["volume_type"] = entry["type"]
            found = self.wait("volume", self.call("POST", "/volumes", {"volume": body})["volume"])
            status = "created"
        elif found["status"] != "available":
            if not self.create or not found["status"].startswith(("creating", "error")):
                raise Failed(f"status {found['status']}")
            found = self.wait("volume", found)  # deletes it if in error: a rerun creates it again
        if found["size"] != entry["size"]:
            raise Failed(f"size {found['size']} GiB, expected {entry['size']}")
        if found["volume_type"] != entry.get("type", DEFAULT_TYPE):
            raise Failed(f"volume type {found['volume_type']}, expected {entry.get('type', DEFAULT_TYPE)}")
        host = found.get("os-vol-host-attr:host") or ""
        if not host.startswith(self.spec["host"] + "#"):
            raise Failed(f"host {host or '(none)'}, expected {self.spec['host']}#<pool>")
        if snapshot is not None and found.get("snapshot_id") != snapshot["id"]:
            raise Failed(
                f"snapshot_id {found.get('snapshot_id')}, expected {snapshot['id']} ({entry['snapshot']})"
            )
        wanted = {
            "description": entry["description"],
            "bootable": "true" if entry.get("bootable") else "false",
        }
        mends = {
            "bootable": ("POST", "/action", {"os-set_bootable": {"bootable": bool(entry.get("bootable"))}}),
            "description": ("PUT", "", {"volume": {"description": entry["description"]}}),
        }
        mended = self.mend("volume", found, entry["metadata"], differences(found, wanted), mends)
        return "updated" if mended and status == "ok" else status

    def snapshot(self, entry: dict) -> str:
        status = "ok"
        volume = self.wanted("volume", entry["volume"])
        found = self.find("snapshot", entry["name"])
        if found is None:
            if not self.create:
                raise Missing("no snapshot of that name")
            body = {
                "volume_id": volume["id"],
                "name": entry["name"],
                "description": entry["description"],
                "metadata": entry["metadata"],
            }
            found = self.wait("snapshot", self.call("POST", "/snapshots", {"snapshot": body})["snapshot"])
            status = "created"
        elif found["status"] != "available":
            if not self.create or not found["status"].startswith(("creating", "error")):
                raise Failed(f"status {found['status']}")
            found = self.wait("snapshot", found)
        if found["volume_id"] != volume["id"]:
            raise Failed(f"of volume {found['volume_id']}, expected {volume['id']} ({entry['volume']})")
        if found["size"] != volume["size"]:
            raise Failed(f"size {found['size']} GiB, its volume's is {volume['size']}")
        wrong = differences(found, {"description": entry["description"]})
        mends = {"description": ("PUT", "", {"snapshot": {"description": entry["description"]}})}
        mended = self.mend("snapshot", found, entry["metadata"], wrong, mends)
        return "updated" if mended and status == "ok" else status


def items(spec: dict, create: bool):
    cinder = Cinder(spec, create)
    resources, stage = cinder.resources, spec.get("stage", "all")
    volume_type, qos = resources["volume_type"], resources["qos"]
    if stage in ("volumes", "all"):
        yield "volume_type", volume_type["name"], lambda: cinder.volume_type(volume_type)
        yield "qos_spec", qos["name"], lambda: cinder.qos(qos)
        yield (
            "qos_association",
            f"{qos['name']}:{volume_type['name']}",
            lambda: cinder.qos_association(qos["name"], volume_type["name"]),
        )
        for entry in resources["volumes"]:
            yield "volume", entry["name"], lambda entry=entry: cinder.volume(entry)
    if stage in ("snapshots", "all"):
        for entry in resources["snapshots"]:
            yield "snapshot", entry["name"], lambda entry=entry: cinder.snapshot(entry)
        for entry in resources["volumes_from_snapshots"]:
            yield "volume", entry["name"], lambda entry=entry: cinder.volume(entry)


if __name__ == "__main__":
    main("cinder", items)
