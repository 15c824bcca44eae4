"""Phases ``undercloud`` and ``overcloud``: the release mirror, and the lab's services deployed with Ansible.

undercloud_phase.py and overcloud_phase.py are the phases; mirror.py fills the undercloud's mirror;
extravars.py builds what the playbooks get; keys.py and credentials.py make keystone's key
repositories and the overcloud's admin credentials; ansible.py runs a playbook with ansible-runner.
"""
