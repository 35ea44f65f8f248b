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
TEMPLATE="$ROOT/tests/dovecot/dovecot.conf.in"
OPENSSL_CNF="$ROOT/tests/dovecot/openssl.cnf"

say() {
    if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

find_dovecot() {
    local d
    for d in $(echo "$PATH" | tr ':' ' ') /usr/sbin /usr/local/sbin /sbin; do
        if [ -x "$d/dovecot" ]; then echo "$d/dovecot"; return 0; fi
    done
    return 1
}

have_pop3d() {
    local p
    for p in /usr/lib/dovecot/pop3 /usr/libexec/dovecot/pop3 /usr/lib64/dovecot/pop3 \
             /usr/local/libexec/dovecot/pop3; do
        [ -x "$p" ] && return 0
    done
    return 1
}

# --- 1. Dovecot and openssl ---------------------------------------------------
if ! find_dovecot >/dev/null || ! have_pop3d || ! command -v openssl >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        say "installing dovecot-core, dovecot-pop3d and openssl"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q dovecot-core dovecot-pop3d openssl
    else
        die "needs Dovecot and openssl: sudo apt-get install dovecot-core dovecot-pop3d openssl"
    fi
fi
DOVECOT=$(find_dovecot) || die "dovecot not found after installing it"
have_pop3d || die "Dovecot's POP3 server is missing (dovecot-pop3d)"

if [ -z "${POPFETCH_BIN:-}" ] && ! command -v cargo >/dev/null; then
    die "needs a Rust toolchain (https://rustup.rs) or POPFETCH_BIN=/path/to/popfetch"
fi

# --- 2. A private server directory ---------------------------------------------
BASE=$(mktemp -d /tmp/pfdemo.XXXXXX)
DOVECOT_PID=
cleanup() {
    if [ -n "$DOVECOT_PID" ] && kill -0 "$DOVECOT_PID" 2>/dev/null; then
        kill -TERM "$DOVECOT_PID" 2>/dev/null || true
        # The master takes its services with it.
        for _ in $(seq 100); do
            kill -0 "$DOVECOT_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$DOVECOT_PID" 2>/dev/null || true
    fi
    rm -rf "$BASE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Dovecot's unprivileged services must reach the users file and Maildirs.
chmod 755 "$BASE"

if [ "$(id -u)" -eq 0 ]; then
    # Dovecot refuses to touch mail as root: the Maildir belongs to nobody.
    INTERNAL_USER=dovecot INTERNAL_GROUP=dovecot LOGIN_USER=dovenull
    MAIL_UID=$(id -u nobody) MAIL_GID=$(id -g nobody)
else
    INTERNAL_USER=$(id -un) INTERNAL_GROUP=$(id -gn) LOGIN_USER=$(id -un)
    MAIL_UID=$(id -u) MAIL_GID=$(id -g)
fi

# A port nothing listens on right now.
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}
POP3_PORT=$(free_port)
POP3S_PORT=$(free_port)
[ "$POP3_PORT" != "$POP3S_PORT" ] || POP3S_PORT=$(free_port)

say "making a throw-away CA and a certificate for localhost"
(
    cd "$BASE"
    openssl req -x509 -config "$OPENSSL_CNF" -extensions ca -newkey ec \
        -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
        -days 30 -subj "/CN=popfetch demo CA" 2>/dev/null
    openssl req -new -config "$OPENSSL_CNF" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 \
        -extfile "$OPENSSL_CNF" -extensions server -out server.pem 2>/dev/null
)

sed -e "s|@BASE@|$BASE|g" \
    -e "s|@POP3_PORT@|$POP3_PORT|g" \
    -e "s|@POP3S_PORT@|$POP3S_PORT|g" \
    -e "s|@SSL@|yes|g" \
    -e "s|@INTERNAL_USER@|$INTERNAL_USER|g" \
    -e "s|@INTERNAL_GROUP@|$INTERNAL_GROUP|g" \
    -e "s|@LOGIN_USER@|$LOGIN_USER|g" \
    -e "s|@MAIL_UID@|$MAIL_UID|g" \
    -e "s|@MAIL_GID@|$MAIL_GID|g" \
    "$TEMPLATE" > "$BASE/dovecot.conf"

PASSWORD="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
printf 'demo:{PLAIN}%s::::::\n' "$PASSWORD" > "$BASE/users"
chmod 644 "$BASE/users"

# --- 3. Sample mail ------------------------------------------------------------
say "writing $COUNT sample messages"
MD="$BASE/home/demo/Maildir"
mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
chmod 755 "$BASE/home"
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
chown -R "$MAIL_UID:$MAIL_GID" "$BASE/home/demo"

# --- 4. Start Dovecot ------------------------------------------------------------
say "starting Dovecot on 127.0.0.1:$POP3S_PORT (POP3S) and :$POP3_PORT (POP3+STLS)"
"$DOVECOT" -F -c "$BASE/dovecot.conf" </dev/null >"$BASE/dovecot.out" 2>&1 &
DOVECOT_PID=$!
for _ in $(seq 100); do
    if ! kill -0 "$DOVECOT_PID" 2>/dev/null; then
        cat "$BASE/dovecot.out" "$BASE/dovecot.log" >&2 2>/dev/null || true
        die "Dovecot did not start"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$POP3S_PORT") 2>/dev/null; then
        break
    fi
    sleep 0.1
done

# --- 5. popfetch -------------------------------------------------------------------
rm -rf "$DEMO/Maildir" "$DEMO/state"
mkdir -p "$DEMO"
cp "$BASE/ca.pem" "$DEMO/ca.pem"
cat > "$DEMO/config.toml" <<EOF
# Written by scripts/demo.sh: one account on the demo's loopback Dovecot.
[account.demo]
host = "localhost"
port = $POP3S_PORT
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
