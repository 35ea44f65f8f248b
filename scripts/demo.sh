#!/usr/bin/env bash
# popfetch demo: start a private Dovecot POP3 server on 127.0.0.1 with about
# twenty sample messages, fetch them over TLS into ./demo/Maildir, print
# popfetch's summary, stop the server.
#
# It uses the same Dovecot template as the integration tests
# (tests/dovecot/dovecot.conf.in) and never touches a system Dovecot or
# /etc/dovecot. Run as root on Debian/Ubuntu, it installs dovecot-core and
# dovecot-pop3d with apt-get when they are missing.
#
# Environment: POPFETCH_BIN=/path/to/popfetch to use that binary instead of
# `cargo run --release`; DEMO_MESSAGES=N for another number of messages.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO="$ROOT/demo"
COUNT=${DEMO_MESSAGES:-20}

say() {
    if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib/dovecot.sh
. "$ROOT/scripts/lib/dovecot.sh"

# --- 1. Dovecot and openssl ---------------------------------------------------
if ! dovecot_find >/dev/null || ! dovecot_have_pop3d || ! command -v openssl >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        say "installing dovecot-core, dovecot-pop3d and openssl"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q dovecot-core dovecot-pop3d openssl
    else
        die "needs Dovecot and openssl: sudo apt-get install dovecot-core dovecot-pop3d openssl"
    fi
fi

if [ -z "${POPFETCH_BIN:-}" ] && ! command -v cargo >/dev/null; then
    die "needs a Rust toolchain (https://rustup.rs) or POPFETCH_BIN=/path/to/popfetch"
fi

# --- 2. A private server directory ---------------------------------------------
trap dovecot_stop EXIT
trap 'exit 130' INT TERM
say "making a throw-away CA and a certificate for localhost"
dovecot_init "$ROOT" || die "could not prepare the private Dovecot"
PASSWORD="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
MD=$(dovecot_add_user demo "$PASSWORD")

# --- 3. Sample mail ------------------------------------------------------------
say "writing $COUNT sample messages"
for i in $(seq 1 "$COUNT"); do
    f="$MD/tmp/$((1700000000 + i)).M${i}P$$.demo"
    {
        printf 'Return-Path: <sender%d@example.org>\n' "$((i % 5))"
        printf 'From: Sender %d <sender%d@example.org>\n' "$((i % 5))" "$((i % 5))"
        printf 'To: Demo <demo@example.net>\n'
        printf 'Subject: Demo message %d of %d\n' "$i" "$COUNT"
        printf 'Date: %s\n' "$(LC_ALL=C date -u -d "@$((1700000000 + i * 3600))" '+%a, %d %b %Y %H:%M:%S +0000')"
        printf 'Message-ID: <demo.%d.%s@popfetch.invalid>\n' "$i" "$$"
        printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n'
        printf 'Hello,\n\nthis is sample message %d. The next line is a lone dot:\n.\n' "$i"
        printf 'From here on, a line that starts with "From " and one with dots:\n..\n'
        printf 'Grüße aus Köln — 8-bit text arrives unchanged.\n'
        if [ $((i % 4)) -eq 0 ]; then
            # Some longer messages.
            for _ in $(seq 200); do
                printf 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n'
            done
        fi
        printf '\n-- \npopfetch demo\n'
    } > "$f"
    mv "$f" "$MD/new/"
done
dovecot_own_mail

# --- 4. Start Dovecot ------------------------------------------------------------
say "starting Dovecot on 127.0.0.1:$DOVECOT_POP3S_PORT (POP3S) and :$DOVECOT_POP3_PORT (POP3+STLS)"
dovecot_start || die "Dovecot did not start"

# --- 5. popfetch -------------------------------------------------------------------
rm -rf "$DEMO/Maildir" "$DEMO/state"
mkdir -p "$DEMO"
cp "$DOVECOT_CA" "$DEMO/ca.pem"
cat > "$DEMO/config.toml" <<EOF
# Written by scripts/demo.sh: one account on the demo's loopback Dovecot.
[account.demo]
host = "localhost"
port = $DOVECOT_POP3S_PORT
tls = "implicit"
tls_ca_file = "$DEMO/ca.pem"
user = "demo"
password = "$PASSWORD"
maildir = "$DEMO/Maildir"
state_dir = "$DEMO/state"
EOF
chmod 600 "$DEMO/config.toml"

say "popfetch -c demo/config.toml"
status=0
if [ -n "${POPFETCH_BIN:-}" ]; then
    "$POPFETCH_BIN" -c "$DEMO/config.toml" || status=$?
else
    (cd "$ROOT" && cargo run --release --quiet -- -c "$DEMO/config.toml") || status=$?
fi

count_files() { find "$@" -type f 2>/dev/null | wc -l || true; }
delivered=$(count_files "$DEMO/Maildir/new" "$DEMO/Maildir/cur")
left=$(count_files "$MD/new" "$MD/cur")
say "popfetch exited with $status: $delivered messages in demo/Maildir, $left left on the server"
exit "$status"
