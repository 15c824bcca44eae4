"""Glance's grenade-style resources (prefixed with roles/common/files/ffulab_resources.py).

Images with real bytes (roles/glance/defaults/main.yml: glance_resources): each image's data is a
512-byte text header (no disk format's magic, no MBR signature) followed by SHAKE-256 output keyed by
the lab's seed, so verify recomputes it without keeping it anywhere. Made before the FFU: a member
project and its non-admin user (identity API), the images with their properties, tags and
visibility (public, private, shared, community), their data uploaded, the shared image's member
accepted by that project, one image deactivated. Verified after it: every attribute, the data
downloaded and compared by sha256 and with glance's own ``checksum`` (MD5) and
``os_hash_algo``/``os_hash_value``, what the member project sees (and does not), the membership, and
the deactivated image still deactivated with its data refused (403) to a non-admin. Image IDs derive
from the seed, so create and verify name the same images.
"""

HEADER = 512
"""Bytes of the text header each image's data starts with."""
PATCH = "application/openstack-images-v2.1-json-patch"
ATTRIBUTES = ("name", "visibility", "disk_format", "container_format", "min_disk", "min_ram", "protected")
"""The image attributes the spec sets and verify compares (besides properties and tags)."""


def image_bytes(seed: str, name: str, kib: int) -> bytes:
    """The deterministic data of image ``name``: ``kib`` KiB, the same at create and verify."""
    header = f"ffulab resources image {name}\n".encode().ljust(HEADER, b"\0")
    key = hmac.new(seed.encode(), f"image-data:{name}".encode(), hashlib.sha256).digest()
    return header + hashlib.shake_256(key).digest(kib * 1024 - HEADER)


class Glance:
    def __init__(self, spec: dict, create: bool):
        self.spec, self.create, self.seed = spec, create, spec["seed"]
        self.resources = spec["resources"]
        self.admin = admin_session(spec)
        self.identity = spec["auth_url"].rstrip("/")
        self.url = spec["image_url"].rstrip("/") + "/v2"
        self.ids: dict[str, str] = {}
        self._member: ks_session.Session | None = None

    # --- HTTP -------------------------------------------------------------------------------------
    call = staticmethod(request)

    def glance(self, method: str, path: str, body=None, session=None, **kwargs) -> dict:
        answer = self.call(session or self.admin, method, f"{self.url}{path}", body, **kwargs)
        return answer.json() if answer.text and "json" in answer.headers.get("Content-Type", "") else {}

    def keystone(self, method: str, path: str, body=None, ok=(200, 201, 204)) -> dict:
        answer = self.call(self.admin, method, f"{self.identity}{path}", body, ok=ok)
        return answer.json() if answer.text else {}

    # --- the member project and its user (identity API, admin session) ------------------------------
    def project_id(self) -> str:
        name = self.resources["project"]
        found = self.keystone("GET", f"/projects?name={name}&domain_id=default")["projects"]
        if not found:
            raise Missing(f"no project {name}")
        return found[0]["id"]

    def project(self) -> str:
        name = self.resources["project"]
        try:
            self.project_id()
            return "ok"
        except Missing:
            if not self.create:
                raise
        body = {"project": {"name": name, "domain_id": "default", "description": "ffulab glance member"}}
        self.keystone("POST", "/projects", body)
        return "created"

    def password(self) -> str:
        return secret(self.seed, "user", self.resources["user"])

    def member_session(self) -> ks_session.Session:
        """The member project's non-admin user, scoped to that project."""
        if self._member is None:
            auth = v3.Password(
                auth_url=self.spec["auth_url"],
                username=self.resources["user"],
                password=self.password(),
                user_domain_name="Default",
                project_name=self.resources["project"],
                project_domain_name="Default",
            )
            self._member = ks_session.Session(auth=auth)
        return self._member

    def user(self) -> str:
        name, project, status = self.resources["user"], self.project_id(), "ok"
        found = self.keystone("GET", f"/users?name={name}&domain_id=default")["users"]
        body = {
            "user": {
                "name": name,
                "domain_id": "default",
                "password": self.password(),
                "default_project_id": project,
                "enabled": True,
                "description": "ffulab glance member project's user (not an admin)",
            }
        }
        if not found:
            if not self.create:
                raise Missing(f"no user {name}")
            user = self.keystone("POST", "/users", body)["user"]["id"]
            status = "created"
        else:
            user = found[0]["id"]
        role = self.keystone("GET", "/roles?name=member")["roles"]
        if not role:
            raise Missing("no role member in the identity service")
        assignment = f"/projects/{project}/users/{user}/roles/{role[0]['id']}"
        if self.call(self.admin, "HEAD", f"{self.identity}{assignment}", ok=(204, 404)).status_code == 404:
            if not self.create:
                raise Failed(f"not a member of {self.resources['project']}")
            self.keystone("PUT", assignment)
            status = "updated" if status == "ok" else status
        try:
            self.member_session().get_token()
        except Exception as exc:
            if not self.create or status != "ok":
                raise Failed(f"no token for the user: {type(exc).__name__}") from None
            self.keystone("PATCH", f"/users/{user}", {"user": {"password": self.password()}})
            self._member = None
            self.member_session().get_token()
            status = "updated"
        session = self.member_session()
        roles = session.auth.get_access(session).role_names
        if "admin" in roles:
            raise Failed(f"the member project's user must not be an admin: roles {roles}")
        return status

    # --- images --------------------------------------------------------------------------------------
    def image_id(self, entry: dict) -> str:
        return stable_uuid(self.seed, "image", entry["name"])

    def wanted(self, entry: dict) -> dict:
        attributes = {
            "name": entry["name"],
            "visibility": entry["visibility"],
            "disk_format": entry["disk_format"],
            "container_format": entry["container_format"],
            "min_disk": entry.get("min_disk", 0),
            "min_ram": entry.get("min_ram", 0),
            "protected": entry.get("protected", False),
        }
        return {**attributes, **{key: str(value) for key, value in entry["properties"].items()}}

    def tags(self, entry: dict) -> list[str]:
        return sorted({*entry["tags"], self.resources["tag"]})

    def get(self, entry: dict, session=None) -> dict:
        return self.glance("GET", f"/images/{self.image_id(entry)}", session=session)

    def image(self, entry: dict) -> str:
        """The image record: attributes, properties, tags."""
        wanted, tags = self.wanted(entry), self.tags(entry)
        try:
            found = self.get(entry)
        except Missing:
            if not self.create:
                raise
            self.glance("POST", "/images", {"id": self.image_id(entry), **wanted, "tags": tags})
            found, status = self.get(entry), "created"
        else:
            status = "ok"
        if found["status"] in ("killed", "deleted", "pending_delete"):
            raise Failed(f"status {found['status']}")
        wrong = differences(found, wanted)
        if sorted(found.get("tags", [])) != tags:
            wrong["tags"] = tags
        if wrong:
            if not self.create:
                raise Failed(describe(found, wrong))
            changes = [{"op": "add", "path": f"/{key}", "value": value} for key, value in wrong.items()]
            self.glance("PATCH", f"/images/{self.image_id(entry)}", changes, headers={"Content-Type": PATCH})
            status = "updated" if status == "ok" else status
        return status

    def data(self, entry: dict) -> str:
        """The image's bytes: uploaded at create; glance's checksum and secure hash match them; at verify
        downloaded (as the admin: a deactivated image's data too) and compared by sha256."""
        data, status = image_bytes(self.seed, entry["name"], entry["kib"]), "ok"
        found = self.get(entry)
        if found["status"] == "queued":
            if not self.create:
                raise Missing("no data: the image is queued")
            self.call(
                self.admin, "PUT", f"{self.url}/images/{self.image_id(entry)}/file",
                data=data, headers={"Content-Type": "application/octet-stream"},
            )  # fmt: skip
            found, status = self.get(entry), "created"
        wanted_status = "deactivated" if entry.get("deactivated") and not self.create else None
        if found["status"] not in ("active", "deactivated") or (
            wanted_status and found["status"] != wanted_status
        ):
            raise Failed(f"status {found['status']}")
        algo = found.get("os_hash_algo")
        if not algo or algo not in hashlib.algorithms_available:
            raise Failed(f"os_hash_algo is {algo!r}")
        expected = {
            "size": len(data),
            "checksum": hashlib.md5(data).hexdigest(),
            "os_hash_value": hashlib.new(algo, data).hexdigest(),
        }
        wrong = differences(found, expected)
        if wrong:
            raise Failed(describe(found, wrong))
        if self.create:
            return status
        answer = self.call(self.admin, "GET", f"{self.url}/images/{self.image_id(entry)}/file")
        body = answer.content
        if hashlib.sha256(body).hexdigest() != hashlib.sha256(data).hexdigest():
            raise Failed(f"downloaded {len(body)} bytes whose sha256 differs from the {len(data)} uploaded")
        if hashlib.md5(body).hexdigest() != found["checksum"]:
            raise Failed("the downloaded data's MD5 is not glance's checksum")
        if hashlib.new(algo, body).hexdigest() != found["os_hash_value"]:
            raise Failed(f"the downloaded data's {algo} is not glance's os_hash_value")
        header = answer.headers.get("Content-MD5")
        if header and header != found["checksum"]:
            raise Failed(f"Content-MD5 {header} is not glance's checksum")
        return status

    def member(self, entry: dict) -> str:
        """The shared image's member: the member project, which accepted it and lists it."""
        image, project, status = self.image_id(entry), self.project_id(), "ok"
        path = f"/images/{image}/members/{project}"
        try:
            found = self.glance("GET", path)
        except Missing:
            if not self.create:
                raise
            found = self.glance("POST", f"/images/{image}/members", {"member": project})
            status = "created"
        if found["status"] != "accepted":
            if not self.create:
                raise Failed(f"membership status {found['status']}, expected accepted")
            found = self.glance("PUT", path, {"status": "accepted"}, session=self.member_session())
            status = "updated" if status == "ok" else status
        listed = self.glance("GET", "/images?visibility=shared", session=self.member_session())["images"]
        if image not in [item["id"] for item in listed]:
            raise Failed("the member project does not list the image it accepted")
        return status

    def deactivated(self, entry: dict) -> str:
        """A deactivated image stays deactivated; a non-admin's download is refused (403)."""
        image, status = self.image_id(entry), "ok"
        found = self.get(entry)
        if found["status"] == "active":
            if not self.create:
                raise Failed("status active, expected deactivated")
            self.glance("POST", f"/images/{image}/actions/deactivate")
            found, status = self.get(entry), "created"
        if found["status"] != "deactivated":
            raise Failed(f"status {found['status']}, expected deactivated")
        answer = self.call(
            self.member_session(), "GET", f"{self.url}/images/{image}/file", ok=(200, 403, 404)
        )
        if answer.status_code != 403:
            raise Failed(f"a non-admin's download answered HTTP {answer.status_code}, expected 403")
        return status

    def visibility(self, entry: dict) -> str:
        """What the member project sees: public, community and (accepted) shared images; not private."""
        visible = entry["visibility"] != "private"
        answer = self.call(
            self.member_session(), "GET", f"{self.url}/images/{self.image_id(entry)}", ok=(200, 404)
        )
        if (answer.status_code == 200) != visible:
            raise Failed(
                f"{entry['visibility']} image: the member project got HTTP {answer.status_code}, "
                f"expected {200 if visible else 404}"
            )
        return "ok"


def items(spec: dict, create: bool):
    glance = Glance(spec, create)
    images = spec["resources"]["images"]
    yield "project", spec["resources"]["project"], glance.project
    yield "user", spec["resources"]["user"], glance.user
    for entry in images:
        yield "image", entry["name"], lambda entry=entry: glance.image(entry)
        yield "image_data", entry["name"], lambda entry=entry: glance.data(entry)
    for entry in images:
        if entry.get("members"):
            yield "image_member", entry["name"], lambda entry=entry: glance.member(entry)
    for entry in images:
        if entry.get("deactivated"):
            yield "deactivated", entry["name"], lambda entry=entry: glance.deactivated(entry)
    for entry in images:
        yield "visibility", entry["name"], lambda entry=entry: glance.visibility(entry)


if __name__ == "__main__":
    main("glance", items)
