"""Validation: Tempest and the per-service checks against a lab, as JUnit, before and after the FFU.

validation.py runs both and records them (``ffulab validate``, phases ``baseline`` and ``validate``);
tempest_venv.py, tempest_conf.py and tempest_run.py install, configure and run Tempest; services.py
runs tests/services; junit.py counts a JUnit file; compare.py names the regressions; netns_http.py
reaches the lab's APIs from the virthost's netns; stream.py runs a test runner.
"""

from ffulab.validate.compare import regressions
from ffulab.validate.validation import ValidationFailed, validate

__all__ = ["ValidationFailed", "regressions", "validate"]
