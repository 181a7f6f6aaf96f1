#!/usr/bin/env bash
# apt-install.sh PKG... -- install Debian packages for the integration suites, robustly and idempotently.
#
# * Does nothing (and never touches the network) when every package is already installed.
# * Never starts a system daemon: maintainer scripts are held back by /usr/sbin/policy-rc.d ("exit 101"),
#   created for the install only when absent (containers usually ship one) and removed again afterwards.
#   See ../shared/realmta/README.md §0 and §1.1.
# * Preseeds debconf so postfix's postinst asks nothing ("Local only"; the system instance is never used).
# * Waits for a dpkg lock held by someone else (DPkg::Lock::Timeout) and retries update+install 3 times.
# Must run as root. Exit status 0 on success, 1 with an "apt-install: ERROR" line otherwise.
set -euo pipefail

say() { printf '[apt-install] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

(($# > 0)) || die "usage: apt-install.sh PKG..."
[[ $(id -u) == 0 ]] || die "must run as root (installs Debian packages)"
command -v apt-get >/dev/null || die "apt-get not found: the integration suites need Debian/Ubuntu"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "$@"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]} == 0)); then
  say "already installed: $*"
  exit 0
fi
say "installing: ${missing[*]}"

debconf-set-selections <<'PRESEED'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string test.local
PRESEED

made_policy=0
cleanup() { if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\n# temporary, from tlscensus test/integration/lib/apt-install.sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
common=(-q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
out=$(mktemp)
for try in 1 2 3; do
  if apt-get "${common[@]}" update >"$out" 2>&1 &&
     apt-get "${common[@]}" install -y --no-install-recommends \
       -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >>"$out" 2>&1; then
    rm -f "$out"
    still=()
    for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
    ((${#still[@]} == 0)) || die "apt-get succeeded but these are not installed: ${still[*]}"
    say "installed: ${missing[*]}"
    exit 0
  fi
  say "apt-get failed (attempt $try/3); last output:"
  tail -n 15 "$out" | sed 's/^/    /' >&2
  if ((try < 3)); then
    # A half-configured package from an interrupted run would fail every later install.
    dpkg --configure -a >/dev/null 2>&1 || true
    sleep $((try * 10))
  fi
done
rm -f "$out"
die "could not install: ${missing[*]}"
