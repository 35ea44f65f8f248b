#!/usr/bin/env bash
# A fleet split in two: 1,000 accounts on one private Dovecot (127.0.0.1,
# implicit TLS, mail kept on the server), fetched by two popfetch
# processes at once, `--shard 1/2` and `--shard 2/2`, each with its own
# state directory, as two machines would. Checks that together they
# deliver every message exactly once (by Message-ID), runs both again to
# check that nothing moves between shards (no message delivered twice),
# and prints the wall times.
#
#   bench/shard.sh
#
# Environment: BENCH_SHARD_ACCOUNTS (1000), BENCH_SHARD_MESSAGES (5 per
# account), BENCH_SHARD_JOBS (16: -j and max_connections_per_host of
# each shard process).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ACCOUNTS=${BENCH_SHARD_ACCOUNTS:-1000}
MESSAGES=${BENCH_SHARD_MESSAGES:-5}
JOBS=${BENCH_SHARD_JOBS:-16}
case "$ACCOUNTS$MESSAGES$JOBS" in *[!0-9]*) echo "shard.sh: counts must be numbers" >&2; exit 64 ;; esac

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'shard.sh: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib/dovecot.sh
. "$ROOT/scripts/lib/dovecot.sh"
dovecot_find >/dev/null && dovecot_have_pop3d ||
    die "needs Dovecot: apt-get install dovecot-core dovecot-pop3d"
command -v python3 >/dev/null || die "needs python3"

say "building popfetch (cargo build --release)"
(cd "$ROOT" && cargo build --release --quiet --bin popfetch)
POPFETCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/popfetch"

OUT=$(mktemp -d /tmp/popfetch-shard.XXXXXX)
cleanup() { dovecot_stop; rm -rf "$OUT"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

dovecot_init "$ROOT"
say "writing $ACCOUNTS accounts x $MESSAGES messages into $DOVECOT_BASE/home"
python3 - "$DOVECOT_BASE" "$ACCOUNTS" "$MESSAGES" "$OUT" "$DOVECOT_POP3S_PORT" "$DOVECOT_CA" <<'EOF'
import os, sys
base, accounts, messages, out, port, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
users = open(os.path.join(base, "users"), "a")
config = open(os.path.join(out, "config.toml"), "w")
config.write('[defaults]\nhost = "127.0.0.1"\nport = %s\ntls = "implicit"\n'
             'tls_ca_file = "%s"\npassword = "pw"\nkeep = true\nmaildir = "%s/Mail"\n'
             'received_header = false\n\n' % (port, ca, out))
for a in range(accounts):
    user = "acct%04d" % a
    users.write("%s:{PLAIN}pw::::::\n" % user)
    config.write('[account.%s]\nuser = "%s"\n\n' % (user, user))
    md = os.path.join(base, "home", user, "Maildir")
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    for m in range(messages):
        body = "".join("line %d of message %d of %s\n" % (i, m, user) for i in range(40))
        text = ("From: sender%d@example.org\nTo: %s@example.net\nSubject: message %d\n"
                "Message-ID: <%d.%s@shard.bench>\n\n%s" % (m, user, m, m, user, body))
        with open(os.path.join(md, "new", "%d.%d.bench" % (1700000000 + m, m)), "w") as f:
            f.write(text)
os.chmod(os.path.join(out, "config.toml"), 0o600)
EOF
dovecot_own_mail
dovecot_start || die "Dovecot did not start"
echo "Dovecot: $("$DOVECOT_BIN" --version 2>/dev/null); $(nproc) CPUs" >&2

TIME=()
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -f %M -a -o "$OUT/rss")

# Both shards at once; prints the wall time of the pair.
run_pair() {
    local start end
    start=$(date +%s.%N)
    "${TIME[@]}" "$POPFETCH" -q -c "$OUT/config.toml" -j "$JOBS" --max-connections-per-host "$JOBS" \
        --shard 1/2 --state-dir "$OUT/state-1" &
    local one=$!
    "${TIME[@]}" "$POPFETCH" -q -c "$OUT/config.toml" -j "$JOBS" --max-connections-per-host "$JOBS" \
        --shard 2/2 --state-dir "$OUT/state-2" &
    local two=$!
    local status=0
    wait "$one" || status=$?
    wait "$two" || status=$?
    end=$(date +%s.%N)
    [ "$status" -eq 0 ] || die "a shard process failed (exit $status)"
    python3 -c "print('%.2f' % ($end - $start))"
}

# Every expected Message-ID delivered exactly once.
check_once() {
    python3 - "$OUT/Mail" "$ACCOUNTS" "$MESSAGES" <<'EOF'
import os, sys, collections
md, accounts, messages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = collections.Counter()
for sub in ("new", "cur"):
    d = os.path.join(md, sub)
    for name in os.listdir(d) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), "rb") as f:
            for line in f:
                if line.lower().startswith(b"message-id:"):
                    seen[line.split(b":", 1)[1].strip()] += 1
                    break
                if line in (b"\n", b"\r\n"):
                    break
want = {("<%d.acct%04d@shard.bench>" % (m, a)).encode() for a in range(accounts) for m in range(messages)}
twice = [k for k, n in seen.items() if n > 1]
missing = want - set(seen)
extra = set(seen) - want
print("%d delivered, %d distinct, %d twice, %d missing, %d unexpected"
      % (sum(seen.values()), len(seen), len(twice), len(missing), len(extra)))
sys.exit(0 if not twice and not missing and not extra else 1)
EOF
}

one=$("$POPFETCH" accounts -c "$OUT/config.toml" --shard 1/2 | wc -l)
two=$("$POPFETCH" accounts -c "$OUT/config.toml" --shard 2/2 | wc -l)
say "shard 1/2 has $one accounts, shard 2/2 has $two"

say "first run: both shards at once, fresh state"
first=$(run_pair)
check_once || die "first run: not every message exactly once"
say "second run: nothing new"
second=$(run_pair)
check_once || die "second run: a message was delivered twice"

printf '\nshard: %d accounts x %d messages, implicit TLS, keep, 2 processes (%d + %d accounts), -j %d each\n' \
    "$ACCOUNTS" "$MESSAGES" "$one" "$two" "$JOBS"
printf '  first run (all new):   %s s wall\n' "$first"
printf '  second run (nothing new): %s s wall\n' "$second"
printf '  every message delivered exactly once\n'
if [ -s "$OUT/rss" ]; then
    printf '  peak RSS per shard process: %s KB (largest of the 4 processes)\n' "$(sort -n "$OUT/rss" | tail -1)"
fi
