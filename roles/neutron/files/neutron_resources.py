"""Neutron's grenade-style resources (prefixed with roles/common/files/ffulab_resources.py).

Made before the FFU with the admin's session (roles/neutron/defaults/main.yml: neutron_resources): the
external provider network (flat on the physnet every OVN chassis maps to br-ex, router:external) and
its subnet on the lab's external network (the virthost's bridge as gateway, no DHCP, the floating
range as its pool), a tenant geneve network and subnet, a router with its gateway on the external
network (at the pool's first address) and an interface on the tenant subnet, a security group
allowing ICMP and TCP 80 in, and a floating IP (the pool's second address). The router's gateway port
must be bound on a gateway chassis (an ovn_host node: status ACTIVE, binding:host_id): its address is
the data plane this lab watches through the FFU, named by a ``ffulab-dataplane:`` line. Verified after
it: every attribute, the same addresses, the gateway still bound on a gateway chassis.
"""

import ipaddress

ROUTER_GATEWAY = "network:router_gateway"
ROUTER_INTERFACE = "network:router_interface"


class Neutron:
    def __init__(self, spec: dict, create: bool):
        self.spec, self.create = spec, create
        self.resources = spec["resources"]
        self.admin = admin_session(spec)
        self.url = spec["network_url"].rstrip("/") + "/v2.0"
        start = ipaddress.ip_address(self.resources["external"]["pool"][0])
        self.gateway_ip, self.fip_address = str(start), str(start + 1)

    # --- HTTP -------------------------------------------------------------------------------------
    def call(self, method: str, path: str, body=None, ok=(200, 201, 204)) -> dict:
        answer = request(self.admin, method, f"{self.url}{path}", body, ok)
        return answer.json() if answer.text else {}

    def find(self, collection: str, **filters) -> dict | None:
        """The one item of ``collection`` (networks, subnets, security-groups...) matching ``filters``."""
        query = "&".join(f"{key}={value}" for key, value in filters.items())
        found = self.call("GET", f"/{collection}?{query}")[collection.replace("-", "_")]
        if len(found) > 1:
            raise Failed(f"{len(found)} {collection} match {filters}")
        return found[0] if found else None

    def made(self, collection: str, name: str, body: dict, wanted: dict) -> str:
        """Create ``name`` from ``body`` if it is missing (create), then compare ``wanted``."""
        kind = collection[:-1]
        found, status = self.find(collection, name=name), "ok"
        if found is None:
            if not self.create:
                raise Missing(f"no {kind} {name}")
            found = self.call("POST", f"/{collection}", {kind: {"name": name, **body}})[kind]
            status = "created"
        wrong = differences(found, wanted)
        if wrong:
            raise Failed(describe(found, wrong))
        return status

    def id_of(self, collection: str, name: str) -> str:
        found = self.find(collection, name=name)
        if found is None:
            raise Missing(f"no {collection[:-1]} {name}")
        return found["id"]

    # --- networks and subnets ------------------------------------------------------------------------
    def external_network(self) -> str:
        ext = self.resources["external"]
        wanted = {
            "provider:network_type": "flat",
            "provider:physical_network": self.spec["physnet"],
            "router:external": True,
            "shared": False,
            "admin_state_up": True,
        }
        status = self.made("networks", ext["network"], {**wanted, "description": "ffulab external"}, wanted)
        self.active("networks", ext["network"])
        return status

    def external_subnet(self) -> str:
        ext = self.resources["external"]
        pool = {"start": ext["pool"][0], "end": ext["pool"][1]}
        wanted = {
            "network_id": self.id_of("networks", ext["network"]),
            "ip_version": 4,
            "cidr": ext["cidr"],
            "gateway_ip": ext["gateway"],
            "enable_dhcp": False,
            "allocation_pools": [pool],
        }
        return self.made("subnets", ext["subnet"], wanted, wanted)

    def tenant_network(self) -> str:
        tenant = self.resources["tenant"]
        wanted = {"provider:network_type": "geneve", "router:external": False, "admin_state_up": True}
        status = self.made("networks", tenant["network"], {"description": "ffulab tenant"}, wanted)
        found = self.active("networks", tenant["network"])
        if not found.get("provider:segmentation_id"):
            raise Failed("no geneve segmentation id")
        return status

    def tenant_subnet(self) -> str:
        tenant = self.resources["tenant"]
        net = ipaddress.ip_network(tenant["cidr"])
        wanted = {
            "network_id": self.id_of("networks", tenant["network"]),
            "ip_version": 4,
            "cidr": tenant["cidr"],
            "gateway_ip": str(net.network_address + 1),
            "enable_dhcp": True,
        }
        return self.made("subnets", tenant["subnet"], wanted, wanted)

    def active(self, collection: str, name: str) -> dict:
        found = self.find(collection, name=name)
        if found is None:
            raise Missing(f"no {collection[:-1]} {name}")
        if found.get("status") != "ACTIVE":
            raise Failed(f"{collection[:-1]} {name} is {found.get('status')}, not ACTIVE")
        return found

    # --- the router --------------------------------------------------------------------------------
    def router(self) -> str:
        ext = self.resources["external"]
        network = self.id_of("networks", ext["network"])
        subnet = self.id_of("subnets", ext["subnet"])
        gateway = {
            "network_id": network,
            "enable_snat": True,
            "external_fixed_ips": [{"subnet_id": subnet, "ip_address": self.gateway_ip}],
        }
        status = self.made("routers", self.resources["router"], {"external_gateway_info": gateway}, {})
        found = self.find("routers", name=self.resources["router"])
        info = found.get("external_gateway_info") or {}
        addresses = [ip["ip_address"] for ip in info.get("external_fixed_ips", [])]
        if info.get("network_id") != network or addresses != [self.gateway_ip]:
            raise Failed(f"its gateway is {info}, expected {ext['network']} at {self.gateway_ip}")
        if not info.get("enable_snat"):
            raise Failed("SNAT is off on its gateway")
        return status

    def interface(self) -> str:
        router = self.id_of("routers", self.resources["router"])
        subnet = self.id_of("subnets", self.resources["tenant"]["subnet"])
        ports = self.call("GET", f"/ports?device_id={router}&device_owner={ROUTER_INTERFACE}")["ports"]
        if any(ip["subnet_id"] == subnet for port in ports for ip in port["fixed_ips"]):
            return "ok"
        if not self.create:
            raise Missing(f"the router has no interface on {self.resources['tenant']['subnet']}")
        self.call("PUT", f"/routers/{router}/add_router_interface", {"subnet_id": subnet})
        return "created"

    def gateway_port(self) -> str:
        """The router's gateway port bound on a gateway chassis (OVN scheduled the router's external
        port there and that chassis' ovn-controller claimed it); at create, the data-plane line."""
        router = self.id_of("routers", self.resources["router"])
        nodes = self.spec["gateway_nodes"]
        deadline = time.monotonic() + (self.resources["gateway_wait"] if self.create else 120)
        while True:
            ports = self.call("GET", f"/ports?device_id={router}&device_owner={ROUTER_GATEWAY}")["ports"]
            port = ports[0] if len(ports) == 1 else {}
            host = port.get("binding:host_id")
            if port.get("status") == "ACTIVE" and host in nodes:
                break
            if time.monotonic() > deadline:
                raise Failed(
                    f"gateway port {port.get('id')} is {port.get('status')} on host {host!r}, "
                    f"expected ACTIVE on one of the gateway chassis {nodes}"
                )
            time.sleep(5)
        if [ip["ip_address"] for ip in port["fixed_ips"]] != [self.gateway_ip]:
            raise Failed(f"gateway port addresses {port['fixed_ips']}, expected {self.gateway_ip}")
        if self.create:
            line = {"name": "router", "address": self.gateway_ip, "server": "", "host": host}
            print("ffulab-dataplane: " + json.dumps(line), flush=True)
        return "ok"

    # --- the security group ----------------------------------------------------------------------------
    def security_group(self) -> str:
        sg = self.resources["security_group"]
        found, status = self.find("security-groups", name=sg["name"]), "ok"
        if found is None:
            if not self.create:
                raise Missing(f"no security group {sg['name']}")
            body = {"security_group": {"name": sg["name"], "description": "ffulab: ICMP and TCP 80 in"}}
            found = self.call("POST", "/security-groups", body)["security_group"]
            status = "created"
        for rule in sg["rules"]:
            wanted = {
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": rule["protocol"],
                "port_range_min": rule.get("port"),
                "port_range_max": rule.get("port"),
            }
            present = [
                r
                for r in found["security_group_rules"]
                if not differences(r, wanted)
                and r.get("remote_ip_prefix") in (None, "0.0.0.0/0")
                and not r.get("remote_group_id")
            ]
            if present:
                continue
            if not self.create:
                raise Failed(f"no rule {wanted}")
            body = {"security_group_rule": {"security_group_id": found["id"], **wanted}}
            self.call("POST", "/security-group-rules", body)
            status = "created" if status == "created" else "updated"
        return status

    # --- the floating IP ---------------------------------------------------------------------------------
    def floating_ip(self) -> str:
        network = self.id_of("networks", self.resources["external"]["network"])
        description = self.resources["floating_ip"]
        found = [
            fip
            for fip in self.call("GET", f"/floatingips?floating_network_id={network}")["floatingips"]
            if fip["description"] == description
        ]
        status = "ok"
        if not found:
            if not self.create:
                raise Missing(f"no floating IP {description}")
            body = {
                "floating_network_id": network,
                "floating_ip_address": self.fip_address,
                "description": description,
            }
            found = [self.call("POST", "/floatingips", {"floatingip": body})["floatingip"]]
            status = "created"
        if len(found) > 1 or found[0]["floating_ip_address"] != self.fip_address:
            addresses = [fip["floating_ip_address"] for fip in found]
            raise Failed(f"floating IPs {addresses}, expected {self.fip_address}")
        return status


def items(spec: dict, create: bool):
    neutron = Neutron(spec, create)
    res = spec["resources"]
    yield "network", res["external"]["network"], neutron.external_network
    yield "subnet", res["external"]["subnet"], neutron.external_subnet
    yield "network", res["tenant"]["network"], neutron.tenant_network
    yield "subnet", res["tenant"]["subnet"], neutron.tenant_subnet
    yield "router", res["router"], neutron.router
    yield "router_interface", f"{res['router']}:{res['tenant']['subnet']}", neutron.interface
    yield "security_group", res["security_group"]["name"], neutron.security_group
    yield "floating_ip", res["floating_ip"], neutron.floating_ip
    yield "router_gateway", res["router"], neutron.gateway_port


if __name__ == "__main__":
    main("neutron", items)
