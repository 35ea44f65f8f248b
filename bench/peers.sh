#!/usr/bin/env bash
# popfetch against its peers (mpop, fetchmail, getmail6) and the protocol
# floor, on one private Dovecot on 127.0.0.1, in one run.
#
#   bench/peers.sh [--install] [--quick]
#
#   --install  apt-get install what is missing: mpop fetchmail getmail6
#              dovecot-core dovecot-pop3d time openssl (needs root)
#   --quick    3 repetitions instead of 5, and a smaller corpus (2,000
#              messages in a., f. and mda., 300 in c. and g.): about 13
#              minutes on 2 cores with BENCH_SKIP="getmail6 a:fetchmail";
#              fetchmail and getmail6 need a minute or more per run of the
#              full scenarios a. and c.
#
# Scenarios (seeded corpus, written straight into the server's Maildirs):
#   a. 5,000 messages (most 2-20 KB, some 0.1-1 MB) over implicit TLS into a
#      fresh Maildir, mail kept on the server
#   c. 1,000 messages through bench/delay_proxy.py (20 ms each way)
#   d. one 100 MB message (peak RSS is the point)
#   e. 4 accounts x 250 messages through the delay proxy: popfetch -j 1 vs -j 4
#   f. the corpus of a. into an mbox: popfetch (and its Maildir time) vs mpop
#   g. the corpus of c. over implicit TLS, each run started right after
#      another program wrote 1 GB into the same filesystem without syncing it
#   fleet. 100 accounts x 5 messages on the one server (implicit TLS):
#      popfetch -j 1, -j 8, -j 32 (max_connections_per_host = 32) against
#      mpop -a and fetchmail with one poll entry per account, each from
#      fresh state; then each again on the state its first run left, with
#      nothing new (checked: nothing delivered a second time)
#      (and popfetch -j 32 once more with its default auth = auto, which
#      picks SCRAM-SHA-256 where everything else logs in with PLAIN)
#   fleet-wan. the fleet's first run through the delay proxy (20 ms each
#      way): popfetch -j 32 against mpop -a and fetchmail
#   mda. the corpus of a. through bench/mda-maildir.sh, one process per
#      message: popfetch's mda, mpop's delivery mda, fetchmail's mda
# Every run starts from a fresh destination (a Maildir made beforehand, for
# every tool) and fresh client state and must deliver every message byte
# for byte (bench/run.py checks), or it is an ERROR. popfetch logs in with
# PLAIN, as mpop does (fetchmail: CRAM-MD5), so that the server does the
# same work for each. The table's "machine CPU s" is what every process on
# the machine used during the run, the server included; "its own CPU s" is
# the tool's alone (user + system, its children included, from
# /usr/bin/time), so the difference is the server's. A peer that is not
# installed is reported as such.
#
# Start it at least five minutes after anything (a test suite) deleted many
# files on the filesystem of /tmp: on ext4 without a journal each file
# creation then skips over the freed inodes, and every tool pays seconds
# of kernel time (bench/RESULTS.md, "Measurement pitfall").
#
# Environment: BENCH_MESSAGES (5000, --quick 2000), BENCH_DELAY_MESSAGES
# (1000, --quick 300),
# BENCH_ACCOUNT_MESSAGES (250), BENCH_HUGE_MB (100), BENCH_DELAY_MS (20),
# BENCH_FLEET_ACCOUNTS (100), BENCH_FLEET_MESSAGES (5),
# BENCH_DOVECOT_REUSE=1 (Dovecot's login and POP3 processes serve one
# connection after another instead of one process each: a lighter server),
# BENCH_REPS (overrides --quick), BENCH_OUT=FILE to also write the table to FILE,
# BENCH_SKIP to leave things out of the run, word by word: a tool
# everywhere ("fetchmail getmail6"), a whole scenario ("a c d e f g fleet
# fleet-wan mda"), or one tool in one scenario ("c:fetchmail").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INSTALL=0
QUICK=0
REPS=5
for arg in "$@"; do
    case $arg in
        --install) INSTALL=1 ;;
        --quick) REPS=3 QUICK=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "peers.sh: unknown argument $arg (try --help)" >&2; exit 64 ;;
    esac
done

REPS=${BENCH_REPS:-$REPS}
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'peers.sh: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib/dovecot.sh
. "$ROOT/scripts/lib/dovecot.sh"

# --- 1. Tools ------------------------------------------------------------------
if [ "$INSTALL" -eq 1 ]; then
    missing=()
    command -v mpop >/dev/null || missing+=(mpop)
    command -v fetchmail >/dev/null || missing+=(fetchmail)
    command -v getmail >/dev/null || missing+=(getmail6)
    dovecot_find >/dev/null || missing+=(dovecot-core)
    dovecot_have_pop3d || missing+=(dovecot-pop3d)
    [ -x /usr/bin/time ] || missing+=(time)
    command -v openssl >/dev/null || missing+=(openssl)
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" -eq 0 ] || die "--install needs root: apt-get install ${missing[*]}"
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q "${missing[@]}"
    fi
fi
dovecot_find >/dev/null && dovecot_have_pop3d ||
    die "needs Dovecot: apt-get install dovecot-core dovecot-pop3d (or --install)"
[ -x /usr/bin/time ] || die "needs GNU time at /usr/bin/time: apt-get install time (or --install)"
command -v openssl >/dev/null || die "needs openssl"
command -v python3 >/dev/null || die "needs python3"
command -v cargo >/dev/null || die "needs a Rust toolchain"

say "building popfetch (cargo build --release) and the floor client (--profile floor)"
(cd "$ROOT" && cargo build --release --quiet --bin popfetch &&
    cargo build --profile floor --quiet --example floor)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
POPFETCH="$TARGET/release/popfetch"
FLOOR="$TARGET/floor/examples/floor"

# --- 2. The machine --------------------------------------------------------------
version() { "$@" 2>&1 | grep -m1 -iE 'version|release|[0-9]+\.[0-9]+' || echo "?"; }
{
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
         "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
    echo "Kernel: $(uname -srm)"
    echo "Filesystem of /tmp: $(df -T /tmp | awk 'NR==2 {print $2}')"
    echo "Dovecot: $("$(dovecot_find)" --version 2>/dev/null)"
    echo "popfetch: $("$POPFETCH" --version)"
    command -v mpop >/dev/null && echo "mpop: $(version mpop --version)" || echo "mpop: not installed"
    command -v fetchmail >/dev/null && echo "fetchmail: $(fetchmail --version 2>/dev/null | grep -m1 release)" ||
        echo "fetchmail: not installed"
    command -v getmail >/dev/null && echo "getmail6: $(version getmail --version)" || echo "getmail6: not installed"
} > /tmp/pfbench-machine.$$
cat /tmp/pfbench-machine.$$ >&2

# --- 3. Server and corpus ----------------------------------------------------------

cleanup() { dovecot_stop; rm -f /tmp/pfbench-machine.$$; }
trap cleanup EXIT
trap 'exit 130' INT TERM

dovecot_init "$ROOT"
mkdir -p "$DOVECOT_BASE/manifests"
password() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
corpus() { # USER ARGS...
    local user=$1; shift
    local md
    md=$(dovecot_add_user "$user" "$(password)")
    python3 "$ROOT/bench/corpus.py" --maildir "$md" --manifest "$DOVECOT_BASE/manifests/$user.txt" "$@"
}
say "writing the corpus into $DOVECOT_BASE/home"
if [ "$QUICK" -eq 1 ]; then
    MESSAGES=${BENCH_MESSAGES:-2000} DELAY_MESSAGES=${BENCH_DELAY_MESSAGES:-300}
else
    MESSAGES=${BENCH_MESSAGES:-5000} DELAY_MESSAGES=${BENCH_DELAY_MESSAGES:-1000}
fi
corpus bench --seed 1 --count "$MESSAGES"
corpus delay --seed 2 --count "$DELAY_MESSAGES"
corpus huge --seed 3 --huge-mb "${BENCH_HUGE_MB:-100}"
for i in 1 2 3 4; do
    corpus "acct$i" --seed "$((10 + i))" --count "${BENCH_ACCOUNT_MESSAGES:-250}"
done
FLEET_ACCOUNTS=${BENCH_FLEET_ACCOUNTS:-100}
case " ${BENCH_SKIP:-} " in *" fleet "*) FLEET_ACCOUNTS=0 ;; esac
for i in $(seq "$FLEET_ACCOUNTS"); do
    corpus "$(printf 'fleet%03d' "$i")" --seed "$((1000 + i))" \
        --count "${BENCH_FLEET_MESSAGES:-5}" 2>/dev/null
done
dovecot_own_mail
# The fleet runs up to 32 sessions at once.
dovecot_many_clients
if [ "${BENCH_DOVECOT_REUSE:-0}" = 1 ]; then
    dovecot_reuse_processes
    echo "Dovecot: login and POP3 processes reused (BENCH_DOVECOT_REUSE=1)" >> /tmp/pfbench-machine.$$
fi

say "starting Dovecot on 127.0.0.1:$DOVECOT_POP3S_PORT"
dovecot_start || die "Dovecot did not start"

# --- 4. Run ----------------------------------------------------------------------------
say "running scenarios ($REPS repetitions each)"
python3 "$ROOT/bench/run.py" --base "$DOVECOT_BASE" --port "$DOVECOT_POP3S_PORT" \
    --ca "$DOVECOT_CA" --popfetch "$POPFETCH" --floor "$FLOOR" --reps "$REPS" \
    --delay-ms "${BENCH_DELAY_MS:-20}" --huge-mb "${BENCH_HUGE_MB:-100}" --out "${BENCH_OUT:-$DOVECOT_BASE/table.md}"
echo
cat /tmp/pfbench-machine.$$
echo "Command: bench/peers.sh $*"
