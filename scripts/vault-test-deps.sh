#!/usr/bin/env bash
# Installs the real `ansible-vault` (from the ansible-core package on PyPI) into a
# virtualenv, so that vpai-vault's import tests decrypt files produced by Ansible
# itself rather than by our own encoder. Idempotent; prints the binary's path.
#
# The tests look for ansible-vault in $VPAI_ANSIBLE_VAULT, then in this venv, then
# on PATH. With CI=true they fail (instead of skipping) when none is found.
set -euo pipefail

venv="${VPAI_ANSIBLE_VENV:-/tmp/vpai-ansible-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/ansible-vault" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check ansible-core
fi
"$venv/bin/ansible-vault" --version >&2
echo "$venv/bin/ansible-vault"
