"""timezone: the node runs in the lab's timezone (settings.timezone)."""

from __future__ import annotations

SERVICE = "timezone"


def test_the_node_is_in_the_lab_timezone(host, node, lab):
    timezone = lab.config["settings"]["timezone"]
    localtime = host.check_output("readlink /etc/localtime")
    assert localtime == f"/usr/share/zoneinfo/{timezone}", (
        f"/etc/localtime on {node} is {localtime or '(not a link)'}, not /usr/share/zoneinfo/{timezone}"
    )
    assert host.file("/etc/timezone").content_string.strip() == timezone, (
        f"/etc/timezone on {node} does not name {timezone}"
    )
