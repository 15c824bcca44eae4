"""Zuul's config schema for the stanzas ``ffulab job export --zuul`` writes, transcribed with voluptuous
from zuul 14.3.0's ``zuul/configloader.py`` (``NodeSetParser.getSchema``, ``JobParser.job_attributes``,
``to_list``, ``ansible_vars_dict``), keys as Zuul has them (``attribute-control`` left out), so a
misspelt or unknown key fails here as it would in Zuul. Zuul's ``override_list``/``override_value``
(YAML ``!override`` tags) are plain values here: the export writes no tags.

Why a transcription: the ``zuul`` package installs here (3 min, ~270 packages, 500 MB) but is far too
heavy for the unit tier; ``test_job_zuul.py`` also loads the export with Zuul's own parser whenever
``zuul`` is importable (``pip install zuul`` in the test environment).
"""

from __future__ import annotations

import re

import voluptuous as vs


def to_list(x):
    return vs.Any([x], x)


def ansible_var_name(value):
    vs.Schema(str)(value)
    if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_]*", value):
        raise vs.Invalid(f"Invalid Ansible variable name '{value}'")


def ansible_vars_dict(value):
    vs.Schema(dict)(value)
    for key in value:
        ansible_var_name(key)


ZUUL_REGEX = {vs.Required("regex"): str, "negate": bool}
NODE = {vs.Required("name"): to_list(str), vs.Required("label"): str}
GROUP = {vs.Required("name"): str, vs.Required("nodes"): to_list(str)}
REAL_NODESET = {vs.Required("nodes"): to_list(NODE), "groups": to_list(GROUP)}
NODESET = vs.Schema(
    vs.Any(
        {**REAL_NODESET, vs.Required("name"): str},
        {vs.Required("alternatives"): [vs.Any(REAL_NODESET, str)], vs.Required("name"): str},
    )
)

PLAYBOOK = to_list(vs.Any(str, {vs.Required("name"): str, "semaphores": to_list(str)}))
POST_PLAYBOOK = to_list(vs.Any(str, {vs.Required("name"): str, "semaphores": to_list(str), "cleanup": bool}))
SEMAPHORE = {vs.Required("name"): str, "resources-first": bool}
ROLE = vs.Any({vs.Required("zuul"): str, "name": str}, {vs.Required("galaxy"): str, "name": str})
PROJECT = {vs.Required("name"): str, "override-branch": str, "override-checkout": str}
INCLUDE_PROJECT = vs.Any(str, {"type": "name", "name": str}, {"type": "change"}, {"type": "item"})
SECRET = {vs.Required("name"): ansible_var_name, vs.Required("secret"): str, "pass-to-parent": bool}
INCLUDE_VARS = to_list(
    vs.Any(
        str,
        {vs.Required("name"): str, "project": str, "required": bool},
        {vs.Required("name"): str, "zuul-project": bool, "use-ref": bool, "required": bool},
    )
)
JOB = vs.Schema(
    {
        vs.Required("name"): str,
        "parent": vs.Any(str, None),
        "final": bool,
        "abstract": bool,
        "protected": bool,
        "intermediate": bool,
        "requires": to_list(str),
        "provides": to_list(str),
        "failure-message": str,
        "success-message": str,
        "failure-url": str,
        "success-url": str,
        "hold-following-changes": bool,
        "voting": bool,
        "semaphore": vs.Any(SEMAPHORE, str),
        "semaphores": to_list(vs.Any(SEMAPHORE, str)),
        "tags": to_list(str),
        "branches": to_list(vs.Any(ZUUL_REGEX, str)),
        "files": to_list(vs.Any(ZUUL_REGEX, str)),
        "secrets": to_list(vs.Any(SECRET, str)),
        "irrelevant-files": to_list(vs.Any(ZUUL_REGEX, str)),
        "nodeset": vs.Any(dict, str),
        "pre-timeout": int,
        "timeout": int,
        "post-timeout": int,
        "attempts": int,
        "pre-run": PLAYBOOK,
        "post-run": POST_PLAYBOOK,
        "run": PLAYBOOK,
        "cleanup-run": PLAYBOOK,
        "ansible-split-streams": bool,
        "ansible-version": vs.Any(str, float, int),
        "roles": to_list(ROLE),
        "required-projects": to_list(vs.Any(PROJECT, str)),
        "include-projects": to_list(INCLUDE_PROJECT),
        "exclude-projects": to_list(INCLUDE_PROJECT),
        "vars": ansible_vars_dict,
        "extra-vars": ansible_vars_dict,
        "host-vars": {str: ansible_vars_dict},
        "group-vars": {str: ansible_vars_dict},
        "include-vars": INCLUDE_VARS,
        "dependencies": to_list(vs.Any({vs.Required("name"): str, "soft": bool}, str)),
        "allowed-projects": to_list(str),
        "override-branch": str,
        "override-checkout": str,
        "description": str,
        "variant-description": str,
        "post-review": bool,
        "match-on-config-updates": bool,
        "workspace-scheme": vs.Any("golang", "flat", "unique"),
        "workspace-checkout": vs.Any(bool, "auto"),
        "deduplicate": vs.Any(bool, "auto"),
        "failure-output": to_list(str),
        "image-build-name": str,
        "type": vs.Any("regular", "initializer", "reporter"),
        "preserve-home-paths": to_list(str),
        "secret-exposure": vs.Any("ignore", "redact", "fail"),
    }
)
STANZAS = {"nodeset": NODESET, "job": JOB}
