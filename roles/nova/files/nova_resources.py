"""Nova's grenade-style resources (prefixed with roles/common/files/ffulab_resources.py).

Made before the FFU (roles/nova/defaults/main.yml: nova_resources): the workload image in glance (ffulab's
own: Debian's cloud kernel as an AKI, the busybox initramfs as an ARI, an AMI naming both with the kernel
command line; taken from the undercloud's mirror, checked against its sha256), two flavors, a keypair, a
server group, and the workload server on the first compute, on neutron's tenant network with its
security group and a floating IP on the external network. Create waits until the workload answers ICMP
and ``GET /`` on TCP 80 through its floating IP (the undercloud sits on the external network, as the
virthost's poller does) and prints ``ffulab-dataplane:`` for the poller; what it saw (server UUID, host,
boot ID, uptime) is kept on the undercloud. Verified after it: everything as made, the workload the same
server (UUID, host, ACTIVE) and not rebooted (same boot ID, its uptime ran on with the clock); at the FFU's
last release a new server is booted, reached on its own floating IP, then deleted.
"""

import os
import re
import select
import socket
import struct
import subprocess
import tempfile

MICROVERSION = "2.79"
"""nova 29 (2024.1) ... 32 (2025.2) all speak it: server group ``policy``, keypairs with a public key."""
RECORD = "/var/lib/ffulab/resources/nova-workload.json"
"""What create saw of the workload, kept on the undercloud (reverted with it by lab snapshots)."""
UPTIME_SLACK = 30.0
"""Seconds the workload's uptime may lag the undercloud's clock between create and verify."""
_ANSWER = re.compile(rb"\r\n\r\n\s*(?P<uptime>\d+(?:\.\d+)?)\s+\S+\s+boot_id\s+(?P<boot>[0-9a-f-]{36})")


# --- the data plane, from the undercloud ------------------------------------------------------------
def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def paused_between(windows: list, t0: float, t1: float) -> float:
    """Seconds the lab stood still ([start, end], merged: snapshot pauses, reverts, the machine's own
    stalls) between ``t0`` and ``t1``."""
    return sum(max(0.0, min(end, t1) - max(start, t0)) for start, end in windows)


def ping(address: str, timeout: float = 2.0) -> bool:
    """One ICMP echo to ``address`` (raw socket: the runner is root on the undercloud)."""
    ident, payload = os.getpid() & 0xFFFF, b"ffulab-resources"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.sendto(packet, (address, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                return False
            data, (source, _port) = sock.recvfrom(2048)
            offset = (data[0] & 0x0F) * 4
            kind, _code, _sum, got, _seq = struct.unpack("!BBHHH", data[offset : offset + 8])
            if source == address and kind == 0 and got == ident:
                return True
    return False


def responder(address: str, port: int, timeout: float = 5.0) -> tuple[float, str] | None:
    """The workload's answer to ``GET /``: (uptime seconds, boot ID), or None."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            answer = b""
            while len(answer) < 4096 and (chunk := conn.recv(4096)):
                answer += chunk
    except OSError:
        return None
    match = _ANSWER.search(answer)
    return (float(match["uptime"]), match["boot"].decode()) if match else None


def answers(address: str, port: int, wait: float) -> tuple[float, str]:
    """Wait until ``address`` answers ICMP and TCP; its (uptime, boot ID) at that moment."""
    deadline = time.monotonic() + wait
    while True:
        got = responder(address, port) if ping(address) else None
        if got:
            return got
        if time.monotonic() > deadline:
            raise Failed(f"{address} answered no ping and uptime on TCP {port} within {wait:.0f} s")
        time.sleep(3)


# --- the APIs ---------------------------------------------------------------------------------------
class Nova:
    def __init__(self, spec: dict, create: bool):
        self.spec, self.create, self.seed = spec, create, spec["seed"]
        self.resources = spec["resources"]
        self.session = admin_session(spec)
        self.compute = spec["compute_url"].rstrip("/")
        self.image = spec["image_url"].rstrip("/") + "/v2"
        self.network = spec["network_url"].rstrip("/") + "/v2.0"
        self.headers = {"OpenStack-API-Version": f"compute {MICROVERSION}"}
        self._files: dict[str, bytes] | None = None

    def call(self, method: str, url: str, body=None, ok=(200, 201, 202, 204), **kwargs):
        return request(self.session, method, url, body, ok, **kwargs)

    def nova(self, method: str, path: str, body=None, ok=(200, 201, 202, 204)) -> dict:
        answer = self.call(method, f"{self.compute}{path}", body, ok, headers=self.headers)
        return answer.json() if answer.text else {}

    def neutron(self, method: str, path: str, body=None) -> dict:
        answer = self.call(method, f"{self.network}{path}", body)
        return answer.json() if answer.text else {}

    def glance(self, method: str, path: str, body=None, **kwargs) -> dict:
        answer = self.call(method, f"{self.image}{path}", body, **kwargs)
        return answer.json() if answer.text and "json" in answer.headers.get("Content-Type", "") else {}

    # --- the workload image -------------------------------------------------------------------------
    def files(self) -> dict[str, bytes]:
        """vmlinuz and initrd.gz from the mirror's archive, checked against the mirror's sha256."""
        if self._files is None:
            image = self.spec["workload_image"]
            with open(image["path"], "rb") as handle:
                data = handle.read()
            if hashlib.sha256(data).hexdigest() != image["sha256"]:
                raise Failed(f"{image['path']} does not have the sha256 of the mirror's index")
            with tempfile.TemporaryDirectory() as work:
                subprocess.run(
                    ["tar", "-I", "zstd", "-xf", image["path"], "-C", work, "vmlinuz", "initrd.gz"],
                    check=True, capture_output=True, timeout=300,
                )  # fmt: skip
                self._files = {}
                for name in ("vmlinuz", "initrd.gz"):
                    with open(os.path.join(work, name), "rb") as handle:
                        self._files[name] = handle.read()
            self._files["ami"] = b"\0" * 2**20
        return self._files

    def image_record(self, kind: str) -> tuple[dict, bytes]:
        entry, image = self.resources["images"][kind], self.spec["workload_image"]
        fmt = {"kernel": "aki", "ramdisk": "ari", "ami": "ami"}[kind]
        wanted = {
            "name": entry["name"],
            "disk_format": fmt,
            "container_format": fmt,
            "visibility": "public",
            "ffulab_workload_digest": image["digest"],
        }
        if kind == "ami":
            wanted |= {
                "kernel_id": self.resources["images"]["kernel"]["id"],
                "ramdisk_id": self.resources["images"]["ramdisk"]["id"],
                "os_command_line": image["cmdline"],
            }
        data = self.files()[{"kernel": "vmlinuz", "ramdisk": "initrd.gz", "ami": "ami"}[kind]]
        return wanted, data

    def workload_image(self, kind: str) -> str:
        """One of the three images: its record and its data (glance's MD5 checksum is compared)."""
        image_id, (wanted, data) = self.resources["images"][kind]["id"], self.image_record(kind)
        status = "ok"
        try:
            found = self.glance("GET", f"/images/{image_id}")
        except Missing:
            if not self.create:
                raise
            self.glance("POST", "/images", {"id": image_id, **wanted})
            found, status = self.glance("GET", f"/images/{image_id}"), "created"
        if found["status"] == "queued" and self.create:
            self.call(
                "PUT", f"{self.image}/images/{image_id}/file", data=data,
                headers={"Content-Type": "application/octet-stream"},
            )  # fmt: skip
            found = self.glance("GET", f"/images/{image_id}")
            status = "created" if status == "created" else "updated"
        wrong = differences(found, wanted)
        if wrong:
            raise Failed(describe(found, wrong))
        if found["status"] != "active":
            raise Failed(f"status {found['status']}")
        if found.get("checksum") != hashlib.md5(data).hexdigest():
            raise Failed("glance's checksum is not the MD5 of the workload image's file")
        return status

    # --- flavors, keypair, server group ---------------------------------------------------------------
    def flavor(self, entry: dict) -> str:
        wanted = {key: entry[key] for key in ("name", "ram", "disk", "vcpus")}
        try:
            found, status = self.nova("GET", f"/flavors/{entry['id']}")["flavor"], "ok"
        except Missing:
            if not self.create:
                raise
            found = self.nova("POST", "/flavors", {"flavor": {"id": entry["id"], **wanted}})["flavor"]
            status = "created"
        wrong = differences(found, wanted)
        if wrong:
            raise Failed(describe(found, wrong))
        return status

    def public_key(self) -> str:
        """An Ed25519 public key derived from the lab's seed (the private half is never needed)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        seed = hmac.new(self.seed.encode(), b"nova-keypair", hashlib.sha256).digest()
        public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
        text = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        return text.decode() + " ffulab"

    def keypair(self) -> str:
        name, key = self.resources["keypair"], self.public_key()
        try:
            found, status = self.nova("GET", f"/os-keypairs/{name}")["keypair"], "ok"
        except Missing:
            if not self.create:
                raise
            body = {"keypair": {"name": name, "public_key": key, "type": "ssh"}}
            found, status = self.nova("POST", "/os-keypairs", body)["keypair"], "created"
        if found["public_key"].split()[:2] != key.split()[:2]:
            raise Failed("the keypair's public key is not the one made from the lab's seed")
        return status

    def server_group_id(self) -> str:
        name = self.resources["server_group"]["name"]
        found = [g for g in self.nova("GET", "/os-server-groups")["server_groups"] if g["name"] == name]
        if not found:
            raise Missing(f"no server group {name}")
        if len(found) > 1:
            raise Failed(f"{len(found)} server groups named {name}")
        return found[0]["id"]

    def server_group(self) -> str:
        entry, status = self.resources["server_group"], "ok"
        try:
            group = self.nova("GET", f"/os-server-groups/{self.server_group_id()}")["server_group"]
        except Missing:
            if not self.create:
                raise
            body = {"server_group": {"name": entry["name"], "policy": entry["policy"]}}
            group, status = self.nova("POST", "/os-server-groups", body)["server_group"], "created"
        if group["policy"] != entry["policy"]:
            raise Failed(f"policy {group['policy']}, expected {entry['policy']}")
        return status

    # --- servers --------------------------------------------------------------------------------------
    def find_server(self, name: str) -> dict | None:
        found = self.nova("GET", f"/servers/detail?name=^{re.escape(name)}$")["servers"]
        found = [server for server in found if server["name"] == name]
        if len(found) > 1:
            raise Failed(f"{len(found)} servers named {name}")
        return found[0] if found else None

    def named_id(self, path: str, kind: str, name: str) -> str:
        found = self.neutron("GET", f"{path}?name={name}")[kind]
        if len(found) != 1:
            raise Missing(f"{len(found)} {kind} named {name} (neutron's resources make it)")
        return found[0]["id"]

    def boot(self, entry: dict, host: str | None, group: str | None) -> dict:
        server = {
            "name": entry["name"],
            "imageRef": self.resources["images"]["ami"]["id"],
            "flavorRef": entry["flavor"],
            "key_name": self.resources["keypair"],
            "networks": [{"uuid": self.named_id("/networks", "networks", self.resources["network"])}],
            "security_groups": [{"name": self.resources["security_group"]}],
        }
        if host:
            server["availability_zone"] = f"nova:{host}"
        body: dict = {"server": server}
        if group:
            body["os:scheduler_hints"] = {"group": group}
        return self.nova("POST", "/servers", body)["server"]

    def active(self, server_id: str) -> dict:
        """Wait for ACTIVE (a boot under nested virtualization takes tens of seconds, emulated minutes)."""
        deadline = time.monotonic() + self.resources["boot_wait"]
        while True:
            server = self.nova("GET", f"/servers/{server_id}")["server"]
            if server["status"] == "ACTIVE":
                return server
            if server["status"] == "ERROR":
                raise Failed(f"server {server_id} ERROR: {server.get('fault', {}).get('message', '?')}")
            if time.monotonic() > deadline:
                raise Failed(
                    f"server {server_id} still {server['status']} after {self.resources['boot_wait']} s"
                )
            time.sleep(5)

    def floating_ip(self, server_id: str) -> str:
        """The server's floating IP on the external network, made when missing (create, or a new server)."""
        ports = self.neutron("GET", f"/ports?device_id={server_id}")["ports"]
        if len(ports) != 1:
            raise Failed(f"server {server_id} has {len(ports)} ports, expected 1")
        port = ports[0]
        if port["status"] != "ACTIVE":
            raise Failed(f"its port {port['id']} is {port['status']}")
        fips = self.neutron("GET", f"/floatingips?port_id={port['id']}")["floatingips"]
        if fips:
            return fips[0]["floating_ip_address"]
        external = self.named_id("/networks", "networks", self.resources["external_network"])
        body = {"floatingip": {"floating_network_id": external, "port_id": port["id"]}}
        return self.neutron("POST", "/floatingips", body)["floatingip"]["floating_ip_address"]

    def workload(self) -> str:
        """The workload: on the first compute, in the server group, ACTIVE, answering on its floating IP."""
        entry, host = self.resources["workload"], self.spec["compute_hosts"][0]
        server, status = self.find_server(entry["name"]), "ok"
        if server is None:
            if not self.create:
                raise Missing(f"no server {entry['name']}")
            server, status = self.boot(entry, host, self.server_group_id()), "created"
        server = self.active(server["id"])
        if server.get("OS-EXT-SRV-ATTR:host") != host:
            raise Failed(f"on host {server.get('OS-EXT-SRV-ATTR:host')}, expected {host}")
        members = self.nova("GET", f"/os-server-groups/{self.server_group_id()}")["server_group"]["members"]
        if server["id"] not in members:
            raise Failed("not a member of its server group")
        address = self.floating_ip(server["id"])
        uptime, boot = answers(address, entry["tcp"], self.resources["answer_wait"])
        now = time.time()
        if self.create:
            record = {"server": server["id"], "host": host, "address": address, "boot_id": boot}
            try:
                with open(RECORD) as handle:
                    kept = json.load(handle)
            except (OSError, ValueError):
                kept = {}
            if kept.get("server") != server["id"] or kept.get("boot_id") != boot:
                os.makedirs(os.path.dirname(RECORD), exist_ok=True)
                with open(RECORD, "w") as handle:
                    json.dump({**record, "uptime": uptime, "at": now}, handle)
        else:
            try:
                with open(RECORD) as handle:
                    kept = json.load(handle)
            except (OSError, ValueError) as exc:
                raise Failed(f"no record of the workload made at create ({RECORD}: {exc})") from None
            if server["id"] != kept["server"]:
                raise Failed(f"server {server['id']} is not the one made before the FFU ({kept['server']})")
            if address != kept["address"]:
                raise Failed(f"floating IP {address}, before the FFU {kept['address']}")
            if boot != kept["boot_id"]:
                raise Failed(f"rebooted: boot ID {boot}, before the FFU {kept['boot_id']}")
            paused = paused_between(self.spec["paused"], kept["at"], now)
            expected = kept["uptime"] + (now - kept["at"]) - paused
            if uptime < expected - UPTIME_SLACK:
                lag = f"expected about {expected:.0f} s, {paused:.0f} s of the lab standing still not counted"
                raise Failed(f"uptime {uptime:.0f} s, {lag}: its clock went back")
        dataplane = {
            "name": "workload",
            "address": address,
            "tcp": entry["tcp"],
            "server": server["id"],
            "host": host,
        }
        print(f"ffulab-dataplane: {json.dumps(dataplane)}")
        return status

    def new_server(self) -> str:
        """At the FFU's last release: a new server boots, gets a lease and a floating IP and answers
        ping and TCP on it (new flows work, not only the old ones); then it and its floating IP go."""
        entry = self.resources["new_server"]
        server = self.find_server(entry["name"]) or self.boot(entry, None, None)
        try:
            server = self.active(server["id"])
            address = self.floating_ip(server["id"])
            uptime, _boot = answers(address, self.resources["workload"]["tcp"], self.resources["answer_wait"])
            where = server.get("OS-EXT-SRV-ATTR:host")
            print(f"nova: new server {server['id']} on {where} answers on {address}, uptime {uptime:.1f} s")
        finally:
            for port in self.neutron("GET", f"/ports?device_id={server['id']}")["ports"]:
                for fip in self.neutron("GET", f"/floatingips?port_id={port['id']}")["floatingips"]:
                    self.call("DELETE", f"{self.network}/floatingips/{fip['id']}")
            self.nova("DELETE", f"/servers/{server['id']}")
        return "ok"


def items(spec: dict, create: bool):
    nova = Nova(spec, create)
    for kind in ("kernel", "ramdisk", "ami"):
        yield "image", spec["resources"]["images"][kind]["name"], lambda kind=kind: nova.workload_image(kind)
    for entry in spec["resources"]["flavors"]:
        yield "flavor", entry["name"], lambda entry=entry: nova.flavor(entry)
    yield "keypair", spec["resources"]["keypair"], nova.keypair
    yield "server_group", spec["resources"]["server_group"]["name"], nova.server_group
    yield "server", spec["resources"]["workload"]["name"], nova.workload
    if not create and str(spec["release"]) == str(spec["final_release"]):
        yield "new_server", spec["resources"]["new_server"]["name"], nova.new_server


if __name__ == "__main__":
    main("nova", items)
