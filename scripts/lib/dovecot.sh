# shellcheck shell=bash
# A private Dovecot POP3 server on 127.0.0.1, built from the same template as
# the integration tests (tests/dovecot/dovecot.conf.in). Source this file;
# it defines functions and sets no traps of its own.
#
#   dovecot_init ROOT        make a server directory, CA, certificate, config
#   dovecot_add_user NAME PW add a passwd-file user with an empty Maildir;
#                            prints the Maildir path
#   dovecot_many_clients     (before dovecot_start) room for a few hundred
#                            connections at once, as the tests' many_clients()
#   dovecot_own_mail         hand every Maildir to the mail owner (after
#                            writing mail into them)
#   dovecot_start            start the master, wait for the POP3S listener
#   dovecot_stop             stop it and its services, remove the directory
#
# After dovecot_init: DOVECOT_BASE, DOVECOT_POP3_PORT, DOVECOT_POP3S_PORT,
# DOVECOT_CA (the CA certificate clients must trust), DOVECOT_MAIL_UID,
# DOVECOT_MAIL_GID. It never reads /etc/dovecot and shares nothing with a
# system Dovecot.

dovecot_find() {
    local d
    for d in $(echo "$PATH" | tr ':' ' ') /usr/sbin /usr/local/sbin /sbin; do
        if [ -x "$d/dovecot" ]; then echo "$d/dovecot"; return 0; fi
    done
    return 1
}

dovecot_have_pop3d() {
    local p
    for p in /usr/lib/dovecot/pop3 /usr/libexec/dovecot/pop3 /usr/lib64/dovecot/pop3 \
             /usr/local/libexec/dovecot/pop3; do
        [ -x "$p" ] && return 0
    done
    return 1
}

# A loopback port nothing listens on right now.
dovecot_free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "no free loopback port found" >&2
    return 1
}

# dovecot_init ROOT: ROOT is the repository (for the template and openssl.cnf).
dovecot_init() {
    local root=$1
    local template="$root/tests/dovecot/dovecot.conf.in"
    local cnf="$root/tests/dovecot/openssl.cnf"
    DOVECOT_BIN=$(dovecot_find) || { echo "dovecot not found" >&2; return 1; }
    dovecot_have_pop3d || { echo "Dovecot's POP3 server is missing (dovecot-pop3d)" >&2; return 1; }
    DOVECOT_BASE=$(mktemp -d /tmp/popfetch-dovecot.XXXXXX)
    DOVECOT_PID=
    # Dovecot's unprivileged services must reach the users file and Maildirs.
    chmod 755 "$DOVECOT_BASE"
    mkdir -p "$DOVECOT_BASE/home"
    chmod 755 "$DOVECOT_BASE/home"

    local internal_user internal_group login_user
    if [ "$(id -u)" -eq 0 ]; then
        # Dovecot refuses to touch mail as root: the Maildirs belong to nobody.
        internal_user=dovecot internal_group=dovecot login_user=dovenull
        DOVECOT_MAIL_UID=$(id -u nobody) DOVECOT_MAIL_GID=$(id -g nobody)
    else
        internal_user=$(id -un) internal_group=$(id -gn) login_user=$(id -un)
        DOVECOT_MAIL_UID=$(id -u) DOVECOT_MAIL_GID=$(id -g)
    fi

    DOVECOT_POP3_PORT=$(dovecot_free_port) || return 1
    DOVECOT_POP3S_PORT=$(dovecot_free_port) || return 1
    while [ "$DOVECOT_POP3_PORT" = "$DOVECOT_POP3S_PORT" ]; do
        DOVECOT_POP3S_PORT=$(dovecot_free_port) || return 1
    done

    (
        cd "$DOVECOT_BASE" || exit 1
        openssl req -x509 -config "$cnf" -extensions ca -newkey ec \
            -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
            -days 30 -subj "/CN=popfetch private test CA" 2>/dev/null &&
        openssl req -new -config "$cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 30 \
            -extfile "$cnf" -extensions server -out server.pem 2>/dev/null
    ) || { echo "openssl could not make the test certificates" >&2; return 1; }
    DOVECOT_CA="$DOVECOT_BASE/ca.pem"

    sed -e "s|@BASE@|$DOVECOT_BASE|g" \
        -e "s|@POP3_PORT@|$DOVECOT_POP3_PORT|g" \
        -e "s|@POP3S_PORT@|$DOVECOT_POP3S_PORT|g" \
        -e "s|@SSL@|yes|g" \
        -e "s|@INTERNAL_USER@|$internal_user|g" \
        -e "s|@INTERNAL_GROUP@|$internal_group|g" \
        -e "s|@LOGIN_USER@|$login_user|g" \
        -e "s|@MAIL_UID@|$DOVECOT_MAIL_UID|g" \
        -e "s|@MAIL_GID@|$DOVECOT_MAIL_GID|g" \
        "$template" > "$DOVECOT_BASE/dovecot.conf"
    : > "$DOVECOT_BASE/users"
    chmod 644 "$DOVECOT_BASE/users"
}

# dovecot_add_user NAME PASSWORD
dovecot_add_user() {
    local name=$1 password=$2
    printf '%s:{PLAIN}%s::::::\n' "$name" "$password" >> "$DOVECOT_BASE/users"
    local md="$DOVECOT_BASE/home/$name/Maildir"
    mkdir -p "$md/cur" "$md/new" "$md/tmp"
    echo "$md"
}

# A login and a POP3 process per connection; the auth and anvil services
# take every login process as a client. The same limits as
# many_clients() in tests/it/common/dovecot.rs.
dovecot_many_clients() {
    cat >> "$DOVECOT_BASE/dovecot.conf" <<'EOF_LIMITS'
default_process_limit = 1200
default_client_limit = 5000
mail_max_userip_connections = 1000
EOF_LIMITS
}

# Dovecot's "high-performance" mode: login and POP3 processes serve one
# connection after another instead of being forked for each (every user
# here has the same mail uid, so a POP3 process may serve any of them).
dovecot_reuse_processes() {
    cat >> "$DOVECOT_BASE/dovecot.conf" <<'EOF_REUSE'
service pop3-login {
  service_count = 0
  process_min_avail = 2
}
service pop3 {
  service_count = 0
  process_min_avail = 2
}
EOF_REUSE
}

dovecot_own_mail() {
    chown -R "$DOVECOT_MAIL_UID:$DOVECOT_MAIL_GID" "$DOVECOT_BASE/home"
}

dovecot_start() {
    "$DOVECOT_BIN" -F -c "$DOVECOT_BASE/dovecot.conf" </dev/null >"$DOVECOT_BASE/dovecot.out" 2>&1 &
    DOVECOT_PID=$!
    for _ in $(seq 100); do
        if ! kill -0 "$DOVECOT_PID" 2>/dev/null; then
            cat "$DOVECOT_BASE/dovecot.out" "$DOVECOT_BASE/dovecot.log" >&2 2>/dev/null || true
            echo "Dovecot did not start" >&2
            DOVECOT_PID=
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$DOVECOT_POP3S_PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "Dovecot did not open 127.0.0.1:$DOVECOT_POP3S_PORT" >&2
    return 1
}

dovecot_stop() {
    if [ -n "${DOVECOT_PID:-}" ] && kill -0 "$DOVECOT_PID" 2>/dev/null; then
        kill -TERM "$DOVECOT_PID" 2>/dev/null || true
        # The master takes its services with it.
        for _ in $(seq 100); do
            kill -0 "$DOVECOT_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$DOVECOT_PID" 2>/dev/null || true
    fi
    DOVECOT_PID=
    if [ -n "${DOVECOT_BASE:-}" ] && [ -d "$DOVECOT_BASE" ]; then
        rm -rf "$DOVECOT_BASE"
    fi
}
