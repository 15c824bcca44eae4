"""neutron 24 (2024.1)'s OVN maintenance and periodic workers without its API, written by ffulab.

neutron 25 (2024.2) added the console scripts neutron-ovn-maintenance-worker and
neutron-periodic-workers, so that the API can run under a WSGI server while the plugin workers run
beside it; neutron 24 runs them only inside neutron-server (eventlet), with its API. This module does
for neutron 24 what those two scripts do in 25 (neutron/server/ovn_maintenance.py and
periodic_eventlet.py, neutron/service.py start_ovn_maintenance_worker and start_periodic_workers),
with neutron 24's own functions:

    python neutron_workers.py maintenance|periodic --config-file ... --config-file ...
"""

# ruff: noqa: I001  (the eventlet monkey-patching import must come first, as in neutron's own scripts)
import sys

# first: neutron.cmd.eventlet monkey-patches with eventlet, as every neutron 24 console script does
from neutron.cmd.eventlet import server as _eventlet_server  # noqa: F401
from neutron_lib.api import attributes
from neutron_lib.callbacks import events, registry, resources

from neutron import manager, server, service
from neutron.api import extensions
from neutron.plugins.ml2.drivers.ovn.mech_driver.ovsdb import worker as ovn_worker


def _plugins_workers():
    manager.init()
    extensions.PluginAwareExtensionManager.get_instance().extend_resources("2.0", attributes.RESOURCES)
    return service._get_plugins_workers()


def maintenance():
    """The ML2/OVN driver's MaintenanceWorker: NB/SB sync at start, then the inconsistency repair."""
    workers = [w for w in _plugins_workers() if isinstance(w, ovn_worker.MaintenanceWorker)]
    if not workers:
        raise RuntimeError("OVN maintenance worker not loaded, ML2/OVN mechanism driver must be used")
    service._start_workers(workers).wait()


def periodic():
    """The plugins' thread workers (quota reservations expiry and the like), in this process."""
    workers = [w for w in _plugins_workers() if w.worker_process_count < 1]
    launcher = service._start_workers(workers)
    registry.publish(resources.PROCESS, events.AFTER_SPAWN, None)
    launcher.wait()


if __name__ == "__main__":
    kind = sys.argv.pop(1)
    server.boot_server({"maintenance": maintenance, "periodic": periodic}[kind])
