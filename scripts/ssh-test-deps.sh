#!/usr/bin/env bash
# Installs what the SSH end-to-end tests (crates/vpai/tests/e2e_ssh.rs) and
# bench/deploy need: Debian's OpenSSH server and client (the tests start their own sshd
# on 127.0.0.1), flock (util-linux), iproute2 (ss, for preflight), GNU tar, and sudo
# with two deploy users that are not root: `vpai-deploy` (passwordless sudo, as a
# hardened host has) and `vpai-nopass` (sudo asks a password: vpai must refuse it),
# and nftables (crates/vpai/tests/e2e_harden.rs applies rule sets in its own network
# namespaces, never in this machine's), and systemd for `systemd-analyze verify` of the
# unit harden writes (systemd need not run), fail2ban and unattended-upgrades (harden
# configures them; the test checks their files with their own tools).
# Idempotent; never starts the system sshd (the tests run their own). Needs root.
set -euo pipefail

need=()
for pkg in openssh-server openssh-client util-linux iproute2 tar coreutils sudo nftables systemd fail2ban unattended-upgrades; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # Keep the package scripts from starting the system sshd.
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_created=1
  fi
  rc=0
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null || rc=$?
  [ $policy_created -eq 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || { echo "ssh-test-deps: apt-get install ${need[*]} failed" >&2; exit $rc; }
fi
# The deploy users of the sudo test. `*` as the password hash: no password login, and
# not "locked" (sshd refuses locked accounts when it does not use PAM).
for user in vpai-deploy vpai-nopass; do
  id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
  usermod -p '*' "$user"
done
printf 'vpai-deploy ALL=(ALL) NOPASSWD: ALL\nvpai-nopass ALL=(ALL) ALL\n' >/etc/sudoers.d/vpai-test-users
chmod 0440 /etc/sudoers.d/vpai-test-users
visudo -cqf /etc/sudoers.d/vpai-test-users
# The privilege separation directory sshd requires.
mkdir -p /run/sshd && chmod 755 /run/sshd
/usr/sbin/sshd -V 2>&1 | head -1 >&2 || ssh -V
