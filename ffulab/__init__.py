"""ffulab: a fast-forward-upgrade test lab for OpenStack on libvirt."""

__version__ = "0.1.0"
