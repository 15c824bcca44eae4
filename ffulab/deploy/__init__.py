"""Deploying the lab with Ansible: what phases ``undercloud``, ``overcloud`` and ``resources`` use.

mirror.py fills the undercloud's mirror;
extravars.py builds what the playbooks get; keys.py and credentials.py make keystone's key
repositories and the overcloud's admin credentials; ansible.py runs a playbook with ansible-runner.
"""
