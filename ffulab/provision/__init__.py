"""Provisioning: layout, libvirt XML, networks, overlays, domains, ssh access."""
