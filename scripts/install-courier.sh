#!/usr/bin/env bash
# Installs what the Courier POP3 tests (tests/it/common/courier.rs) need,
# as root, without disturbing a system Dovecot:
#
# - courier-pop and courier-base conflict with dovecot-pop3d, so they are
#   only unpacked (apt-get download + dpkg -x) into a private directory,
#   POPFETCH_COURIER_ROOT (default /opt/popfetch-courier); nothing of them
#   is configured or started;
# - their libraries, and Courier's authentication daemon and user
#   database tools, install normally with apt-get (none of them starts a
#   service or conflicts with Dovecot).
#
# Idempotent: does nothing when everything is there.
set -euo pipefail

root="${POPFETCH_COURIER_ROOT:-/opt/popfetch-courier}"
deps=(courier-authdaemon courier-authlib-userdb libcourier-unicode4 libgdbm6 libidn12
      libpcre3 libgamin0 util-linux openssl)

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in "${deps[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
updated=no
if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    $SUDO apt-get update -q
    updated=yes
    $SUDO apt-get install -y -q "${missing[@]}"
fi

if [ ! -x "$root/usr/lib/courier/courier/courierpop3d" ] || [ ! -x "$root/usr/bin/couriertls" ]; then
    echo "==> unpacking courier-base and courier-pop into $root"
    [ "$updated" = yes ] || $SUDO apt-get update -q
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    chmod 777 "$work"
    # apt-get download writes into the current directory as user _apt.
    (cd "$work" && $SUDO apt-get download -q courier-base courier-pop)
    $SUDO mkdir -p "$root"
    for deb in "$work"/*.deb; do
        $SUDO dpkg -x "$deb" "$root"
    done
fi

# The mount points Courier's fixed paths are bound over in the tests'
# private mount namespaces (the packages above create both; /run may have
# been emptied by a reboot since).
$SUDO mkdir -p /etc/courier /run/courier
