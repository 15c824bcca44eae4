"""ffulab: a fast-forward-upgrade test lab for OpenStack on libvirt."""

import logging

__version__ = "0.1.0"

# Records go to the workspace log when a command opened one; without it Python's last-resort handler
# would print every error a second time next to the one the CLI shows.
logging.getLogger(__name__).addHandler(logging.NullHandler())
