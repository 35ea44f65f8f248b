#!/usr/bin/env python3
"""Benchmark runner behind bench/peers.sh: runs every scenario against the
private Dovecot that peers.sh started, checks every delivery byte for byte,
and prints one table.

Each run gets a fresh destination and fresh client state, is timed with
/usr/bin/time -v (peak RSS from it; wall time from a monotonic clock around
it, which is finer than time's 10 ms), and must deliver exactly the corpus:
the sorted SHA-256 list of the delivered messages, after CRLF -> LF and
after dropping the trace headers a tool prepends (everything above the
corpus's first header, X-Bench-Seq), must equal the manifest. Anything else
is an ERROR, never a time. The fleet's "nothing new" runs are the
exception to fresh state: each runs again on what one of the first runs
left, and the same check then proves that nothing came a second time.

Repetitions run round-robin (rep 1 of every tool, then rep 2, ...) so that
slow drift of the machine hits every tool alike.
"""

import argparse
import hashlib
import os
import pwd
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ["mpop", "fetchmail", "getmail6"]
PEER_BINARY = {"mpop": "mpop", "fetchmail": "fetchmail", "getmail6": "getmail"}
MDA = os.path.join(HERE, "mda-maildir.sh")
FIRST_HEADER = b"X-Bench-Seq: "
NOBODY = pwd.getpwnam("nobody")
HEADER_LINE = re.compile(rb"^([!-9;-~]+:|[ \t])")


def log(msg):
    print(f"  {msg}", file=sys.stderr, flush=True)


class Ctx:
    """What peers.sh set up: server, users, binaries, manifests."""

    def __init__(self, a):
        self.base = a.base
        self.port = a.port
        self.ca = a.ca
        self.popfetch = a.popfetch
        self.floor = a.floor
        self.work = os.path.join(a.base, "runs")
        os.makedirs(self.work, exist_ok=True)
        self.passwords = {}
        with open(os.path.join(a.base, "users")) as f:
            for line in f:
                name, rest = line.split(":", 1)
                self.passwords[name] = rest.split(":", 1)[0].removeprefix("{PLAIN}")
        self.manifests = {}
        self.run_seq = 0
        self.kept = {}  # kept_as key -> [(argv, env, dirs)] of successful runs

    def manifest(self, user):
        if user not in self.manifests:
            with open(os.path.join(self.base, "manifests", f"{user}.txt")) as f:
                self.manifests[user] = [l.strip() for l in f if l.strip()]
        return self.manifests[user]

    def fresh_dir(self, label):
        self.run_seq += 1
        d = os.path.join(self.work, f"{self.run_seq:04d}-{label}")
        os.makedirs(d)
        return d


# --- verification ------------------------------------------------------------


def normalised_digest(data):
    data = data.replace(b"\r\n", b"\n")
    if data.startswith(FIRST_HEADER):
        idx = 0
    else:
        idx = data.find(b"\n" + FIRST_HEADER)
        if idx < 0:
            raise ValueError("no X-Bench-Seq header: not a corpus message")
        idx += 1
    for line in data[:idx].split(b"\n")[:-1]:
        if not HEADER_LINE.match(line):
            raise ValueError(f"non-header text above the message: {line[:60]!r}")
    return hashlib.sha256(data[idx:]).hexdigest()


def verify_maildir(maildir, expected):
    got = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                try:
                    got.append(normalised_digest(f.read()))
                except ValueError as e:
                    return f"{sub}/{name}: {e}"
    got.sort()
    if got == expected:
        return None
    missing = len(set(expected) - set(got))
    extra = len(got) - len(expected) + missing
    return (f"delivered {len(got)} of {len(expected)} messages "
            f"({missing} missing or altered, {max(extra, 0)} unexpected)")


def verify_mbox(path, expected):
    """An mboxrd file: messages start at "From " lines after an empty line
    (or at the top), ">From " quoting loses one ">", and the empty line
    ending each message is not part of it."""
    with open(path, "rb") as f:
        data = f.read()
    msgs, cur, blank = [], None, True
    for line in data.split(b"\n")[:-1]:
        if line.startswith(b"From ") and blank:
            if cur is not None:
                msgs.append(cur)
            cur = []
        elif cur is None:
            return "does not start with a From line"
        else:
            if re.match(rb">+From ", line):
                line = line[1:]
            cur.append(line)
        blank = line == b""
    if cur is not None:
        msgs.append(cur)
    got = []
    for i, m in enumerate(msgs):
        if m and m[-1] == b"":
            m = m[:-1]
        try:
            got.append(normalised_digest(b"\n".join(m) + b"\n"))
        except ValueError as e:
            return f"message {i + 1}: {e}"
    got.sort()
    if got == expected:
        return None
    missing = len(set(expected) - set(got))
    return f"delivered {len(got)} of {len(expected)} messages ({missing} missing or altered)"


# --- one timed run -----------------------------------------------------------


def busy_cpu():
    """CPU seconds every process on the machine has used so far (user,
    nice, system, irq, softirq): the server's work shows here, and the
    client's, which /usr/bin/time alone does not add up."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def timed(argv, env, cwd, timeout):
    tfile = os.path.join(cwd, "time.txt")
    os.sync()  # the previous run's dirty pages are not this run's cost
    cpu0 = busy_cpu()
    t0 = time.perf_counter()
    # A session of its own, so that a timeout or Ctrl-C stops the tool and
    # whatever it started (fetchmail's MDA, getmail's delivery child).
    p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tfile] + argv, env=env, cwd=cwd,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException as e:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        if isinstance(e, subprocess.TimeoutExpired):
            return None, None, None, None, None, None, f"timed out after {timeout} s"
        raise
    wall = time.perf_counter() - t0
    cpu = busy_cpu() - cpu0
    rss = None
    # The tool's own CPU (user + system, its waited-for children included):
    # what the machine used besides is the server's (and the kernel's).
    tool_cpu = 0.0
    try:
        with open(tfile) as f:
            for line in f:
                if "Maximum resident set size" in line:
                    rss = int(line.rsplit(":", 1)[1])
                elif line.strip().startswith(("User time (seconds)", "System time (seconds)")):
                    tool_cpu += float(line.rsplit(":", 1)[1])
    except (OSError, ValueError):
        pass
    tail = (err or b"").decode(errors="replace").strip().splitlines()[-3:]
    return wall, rss, cpu, tool_cpu, p.returncode, out, " | ".join(tail)


def clean_env(home):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, "config"),
               XDG_STATE_HOME=os.path.join(home, "state"),
               XDG_CACHE_HOME=os.path.join(home, "cache"))
    return env


def make_maildir(path):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


# --- the tools ---------------------------------------------------------------
# Each builder gets (ctx, run_dir, port, users) and returns (argv, env, maildirs)
# where maildirs maps each user to the Maildir its mail must land in.


def popfetch_cmd(jobs=None, mbox=False, mda=False, per_host=None, auth="plain"):
    """popfetch into a Maildir (default), an mbox, or through
    bench/mda-maildir.sh into a Maildir (mda=True). per_host sets
    max_connections_per_host in [defaults] (else popfetch's default, 4).

    auth: the login every peer makes here is a cheap one (mpop: PLAIN,
    fetchmail: CRAM-MD5), while popfetch's `auth = auto` picks
    SCRAM-SHA-256, which costs the server 4,096 PBKDF2 rounds per login;
    so popfetch logs in with PLAIN too (None: its default, auto), and the
    fleet shows auto in a row of its own. The Maildir is made beforehand,
    as it is for the peers."""
    def build(ctx, run, port, users):
        cfg, dirs = [], {}
        defaults = []
        if per_host:
            defaults.append(f"max_connections_per_host = {per_host}")
        if auth:
            defaults.append(f'auth = "{auth}"')
        if defaults:
            cfg.append("[defaults]\n" + "\n".join(defaults) + "\n")
        for u in users:
            if mbox:
                md = os.path.join(run, f"{u}.mbox")
                dest = f'mbox = "{md}"'
            elif mda:
                md = os.path.join(run, f"Maildir-{u}")
                make_maildir(md)
                dest = f'mda = ["{MDA}", "{md}"]'
            else:
                md = os.path.join(run, f"Maildir-{u}")
                make_maildir(md)
                dest = f'maildir = "{md}"'
            dirs[u] = md
            cfg.append(
                f'[account.{u}]\nhost = "127.0.0.1"\nport = {port}\ntls = "implicit"\n'
                f'tls_ca_file = "{ctx.ca}"\nuser = "{u}"\npassword = "{ctx.passwords[u]}"\n'
                f'{dest}\nstate_dir = "{run}/state"\nkeep = true\n'
            )
        path = os.path.join(run, "config.toml")
        write_private(path, "\n".join(cfg))
        argv = [ctx.popfetch, "-c", path, "-q"]
        if jobs:
            argv += ["-j", str(jobs)]
        return argv, clean_env(run), dirs
    return build


def mpop_mbox_cmd(ctx, run, port, users):
    argv, env, dirs = mpop_cmd(ctx, run, port, users)
    path = os.path.join(run, "mpoprc")
    with open(path) as f:
        rc = f.read()
    for u, md in list(dirs.items()):
        box = os.path.join(run, f"{u}.mbox")
        rc = rc.replace(f"delivery maildir {md}\n", f"delivery mbox {box}\n")
        dirs[u] = box
    write_private(path, rc)
    return argv, env, dirs


def mpop_mda_cmd(ctx, run, port, users):
    argv, env, dirs = mpop_cmd(ctx, run, port, users)
    path = os.path.join(run, "mpoprc")
    with open(path) as f:
        rc = f.read()
    for md in dirs.values():
        rc = rc.replace(f"delivery maildir {md}\n",
                        f"delivery mda {shlex.quote(MDA)} {shlex.quote(md)}\n")
    write_private(path, rc)
    return argv, env, dirs


def after_dirty_gigabyte(build):
    """The same run, started right after another program wrote 1 GB into
    the same filesystem without syncing it (untimed)."""
    def wrapped(ctx, run, port, users):
        for old in getattr(ctx, "dirty", []):
            try:
                os.unlink(old)
            except FileNotFoundError:
                pass
        dirty = os.path.join(run, "dirty")
        subprocess.run(["dd", "if=/dev/zero", f"of={dirty}", "bs=1M", "count=1024",
                        "status=none"], check=True)
        ctx.dirty = [dirty]
        return build(ctx, run, port, users)
    return wrapped


class SetupError(Exception):
    """A builder could not prepare its run (reported like a failed run)."""


def kept_as(key, build):
    """The same runs, and each one that succeeds leaves its state for
    nothing_new(key): its directory, command and destinations."""
    def wrapped(ctx, run, port, users):
        return build(ctx, run, port, users)
    wrapped.keep_as = key
    return wrapped


def nothing_new(key, build, ok_exits=(0,)):
    """A second run on the state a successful kept_as(key) run left, with
    nothing new on the server: the same command on the same files;
    ok_exits are the exit codes that mean success for it (fetchmail exits
    1 for "no mail").
    Without such a state (its first run failed), the first run is made
    here, untimed, and must deliver the corpus. The check after the timed
    run then also proves that it delivered nothing a second time."""
    def wrapped(ctx, run, port, users):
        states = ctx.kept.get(key)
        if states:
            return states.pop(0)
        argv, env, dirs = build(ctx, run, port, users)
        p = subprocess.run(argv, env=env, cwd=run, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=900)
        if p.returncode != 0:
            tail = " | ".join(p.stderr.decode(errors="replace").strip().splitlines()[-3:])
            raise SetupError(f"untimed first run: exit {p.returncode}: {tail[:300]}")
        for u, md in dirs.items():
            err = verify_maildir(md, ctx.manifest(u))
            if err:
                raise SetupError(f"untimed first run: {u}: {err}")
        return argv, env, dirs
    wrapped.ok_exits = ok_exits
    return wrapped


def mpop_cmd(ctx, run, port, users):
    rc = ["defaults", "tls on", "tls_starttls off", f"tls_trust_file {ctx.ca}", "keep on",
          "only_new on", ""]
    dirs = {}
    for u in users:
        md = os.path.join(run, f"Maildir-{u}")
        make_maildir(md)
        dirs[u] = md
        rc += [f"account {u}", "host 127.0.0.1", f"port {port}", f"user {u}",
               f"password {ctx.passwords[u]}", f"delivery maildir {md}",
               f"uidls_file {run}/uidls-{u}", ""]
    path = os.path.join(run, "mpoprc")
    write_private(path, "\n".join(rc))
    return ["mpop", "-C", path, "-q", "-a"], clean_env(run), dirs


def fetchmail_cmd(ctx, run, port, users, fetchall=True):
    """fetchmail with one poll entry per account, each delivering through
    bench/mda-maildir.sh into its own Maildir. fetchall=False: only what
    its UIDL list (--idfile) has not seen, for runs on existing state."""
    rc, dirs = ["set no bouncemail"], {}
    for u in users:
        md = os.path.join(run, f"Maildir-{u}")
        make_maildir(md)
        dirs[u] = md
        rc += [f"poll 127.0.0.1 protocol pop3 port {port}" + ("" if fetchall else " uidl"),
               f'  user "{u}" password "{ctx.passwords[u]}"',
               f"  ssl sslcertfile {ctx.ca} sslcertck sslcommonname localhost keep"
               + (" fetchall" if fetchall else "") + " no rewrite",
               f'  mda "{MDA} {md}"']
    path = os.path.join(run, "fetchmailrc")
    write_private(path, "\n".join(rc) + "\n")
    env = clean_env(run)
    env["FETCHMAILHOME"] = run
    argv = ["fetchmail", "-f", path, "--nosyslog", "--nodetach", "-s",
            "--idfile", os.path.join(run, "fetchids"), "--pidfile", os.path.join(run, "pid")]
    return argv, env, dirs


def fetchmail_new_cmd(ctx, run, port, users):
    return fetchmail_cmd(ctx, run, port, users, fetchall=False)


def getmail_cmd(ctx, run, port, users):
    (u,) = users
    md = os.path.join(run, f"Maildir-{u}")
    make_maildir(md)
    gdir = os.path.join(run, "getmail")
    os.makedirs(gdir)
    rc = ("[retriever]\ntype = SimplePOP3SSLRetriever\nserver = 127.0.0.1\n"
          f"port = {port}\nusername = {u}\npassword = {ctx.passwords[u]}\n"
          f"ca_certs = {ctx.ca}\n"
          # Also bounds getmail's wait for its delivery child, which can miss
          # the child's exit (a lost SIGCHLD wake-up) and then sits out the
          # whole timeout (default 180 s) before failing the run.
          "timeout = 30\n\n"
          f"[destination]\ntype = Maildir\npath = {md}/\n\n"
          "[options]\nread_all = true\ndelete = false\nverbose = 0\n")
    path = os.path.join(gdir, "getmailrc")
    write_private(path, rc)
    argv = ["getmail", "--getmaildir", gdir, "--rcfile", path]
    if os.geteuid() == 0:
        # getmail refuses to deliver as root: run it as nobody, as a user
        # would run it as themselves.
        for d, _, files in os.walk(run):
            for name in [d] + [os.path.join(d, f) for f in files]:
                os.chown(name, NOBODY.pw_uid, NOBODY.pw_gid)
        argv = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}",
                "--clear-groups"] + argv
    return argv, clean_env(run), {u: md}


def floor_cmd(ctx, run, port, users):
    (u,) = users
    env = clean_env(run)
    env["POP3_PASSWORD"] = ctx.passwords[u]
    argv = [ctx.floor, "127.0.0.1", str(port), ctx.ca, u, str(len(ctx.manifest(u)))]
    return argv, env, {}


def run_once(ctx, label, build, port, users, timeout):
    run = ctx.fresh_dir(label)
    try:
        argv, env, dirs = build(ctx, run, port, users)
    except (SetupError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    wall, rss, cpu, tool_cpu, code, out, tail = timed(argv, env, run, timeout)
    if code is None:
        return None, tail
    if code not in getattr(build, "ok_exits", (0,)):
        return None, f"exit {code}: {tail[:300]}"
    if not dirs:  # the floor keeps nothing; it checked the count itself
        out = out.decode(errors="replace")
        want = sum(len(ctx.manifest(u)) for u in users)
        if f"floor: {want} messages" not in out:
            return None, f"floor reported: {out.strip()[:200]}"
    for u, md in dirs.items():
        verify = verify_mbox if md.endswith(".mbox") else verify_maildir
        err = verify(md, ctx.manifest(u))
        if err:
            return None, f"{u}: {err}"
    key = getattr(build, "keep_as", None)
    if key:
        ctx.kept.setdefault(key, []).append((argv, env, dirs))
    # The run's files stay until the whole benchmark ends (peers.sh removes
    # the server directory): ext4 skips recently deleted inodes when it
    # allocates new ones, so deleting 5,000 files makes the next run's file
    # creations scan past them and costs the next tool seconds.
    return (wall, rss, cpu, tool_cpu), None


# --- scenarios and the table ---------------------------------------------------


def installed(tool):
    return tool not in PEER_BINARY or shutil.which(PEER_BINARY[tool]) is not None


# What BENCH_SKIP leaves out of this run, word by word: a tool (everywhere),
# a scenario id (a c d e f g fleet fleet-wan mda: the whole scenario), or ID:TOOL
# (that tool in that scenario only), e.g. BENCH_SKIP="getmail6 c:fetchmail".
# A quick run on a busy machine cannot wait minutes per fetchmail run.
SKIP = set(os.environ.get("BENCH_SKIP", "").split())


def skipped(sid, tool=None):
    if tool is None:
        return sid in SKIP
    return tool in SKIP or f"{sid}:{tool}" in SKIP


def scenario(ctx, sid, name, entries, port, reps, timeout):
    """entries: list of (tool label, builder, users). Returns (name, rows).

    A failed run (wrong exit code, missing or altered messages, timeout)
    never counts as a time; it is reported with its reason. The tool's
    other repetitions still run, unless its first two runs both failed.
    """
    print(f"== {name}", file=sys.stderr, flush=True)
    results = {label: [] for label, _, _ in entries}
    errors = {label: [] for label, _, _ in entries}
    for rep in range(reps):
        for label, build, users in entries:
            tool = label.split()[0]
            if not installed(tool) or skipped(sid, tool):
                continue
            if len(errors[label]) >= 2 and not results[label]:
                continue
            r, err = run_once(ctx, re.sub(r"\W+", "_", label), build, port, users, timeout)
            if err:
                errors[label].append(err)
                log(f"{label} rep {rep + 1}: ERROR {err}")
            else:
                results[label].append(r)
                log(f"{label} rep {rep + 1}: {r[0]:.2f} s, {r[1] / 1024:.1f} MB, "
                    f"machine CPU {r[2]:.2f} s, its own {r[3]:.2f} s")
    rows = []
    for label, _, _ in entries:
        tool = label.split()[0]
        row = {"tool": label, "errors": errors[label]}
        if skipped(sid, tool):
            row["status"] = "skipped (BENCH_SKIP)"
        elif not installed(tool):
            row["status"] = "not installed"
        elif not results[label]:
            row["status"] = "ERROR: " + errors[label][0]
        else:
            walls = [w for w, _, _, _ in results[label]]
            row.update(status="ok", min=min(walls), median=statistics.median(walls),
                       rss=max(r for _, r, _, _ in results[label]) / 1024, n=len(walls),
                       cpu=statistics.median(c for _, _, c, _ in results[label]),
                       tool_cpu=statistics.median(t for _, _, _, t in results[label]))
        rows.append(row)
    return name, rows


def start_proxy(target_port, delay_ms):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "delay_proxy.py"),
                          "--target-port", str(target_port), "--delay-ms", str(delay_ms),
                          "--max-seconds", "3600"], stdout=subprocess.PIPE)
    port = int(p.stdout.readline())
    return p, port


def fmt_ratio(x, base):
    return f"{x / base:.2f}x" if base else "-"


def table(scenarios):
    out = ["| scenario | tool | runs | min s | median s | peak RSS MB | machine CPU s | its own CPU s "
           "| vs fastest peer | vs floor |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, rows in scenarios.values():
        ok = {r["tool"]: r for r in rows if r["status"] == "ok"}
        peers = [r["median"] for t, r in ok.items() if t.split()[0] in PEERS]
        fastest = min(peers) if peers else None
        floor = ok["floor"]["median"] if "floor" in ok else None
        for r in rows:
            if r["status"] != "ok":
                out.append(f"| {name} | {r['tool']} | | | | | | | {r['status']} | |")
                continue
            runs = f"{r['n']}" if not r["errors"] else f"{r['n']} (+{len(r['errors'])} failed)"
            out.append(f"| {name} | {r['tool']} | {runs} | {r['min']:.2f} | {r['median']:.2f} "
                       f"| {r['rss']:.1f} | {r['cpu']:.2f} | {r['tool_cpu']:.2f} "
                       f"| {fmt_ratio(r['median'], fastest)} "
                       f"| {fmt_ratio(r['median'], floor)} |")
    failures = [f"- {name}, {r['tool']}: {e}" for name, rows in scenarios.values() for r in rows
                if r["status"] == "ok" for e in r["errors"]]
    if failures:
        out += ["", "Failed runs (not counted as times):"] + failures
    return "\n".join(out)


def verdict(ok, text):
    return f"- [{'met' if ok else 'MISSED'}] {text}"


def targets(scenarios):
    """scenarios: scenario key -> (name, rows); a key that is missing (a
    skipped scenario) or a tool without a time judges nothing."""
    s = {key: {r["tool"]: r for r in rows if r["status"] == "ok"}
         for key, (_, rows) in scenarios.items()}
    lines = []

    def med(key, tool):
        r = s.get(key, {}).get(tool)
        return r["median"] if r else None

    def short(key):  # "a. 2,000 msgs, TLS, Maildir" -> "2,000 msgs"
        return scenarios[key][0].split(", ")[0].split(". ", 1)[1] if key in scenarios else key

    la, lc = short("a"), short("c")
    pf, mp, fl = med("a", "popfetch"), med("a", "mpop"), med("a", "floor")
    if pf and mp:
        lines.append(verdict(pf <= 0.35 * mp, f"{la}: popfetch/mpop = {pf / mp:.2f} (target <= 0.35)"))
    if pf and fl:
        lines.append(verdict(pf <= 1.25 * fl, f"{la}: popfetch/floor = {pf / fl:.2f} (target <= 1.25)"))
    pf, mp, fl = med("c", "popfetch"), med("c", "mpop"), med("c", "floor")
    if pf and mp:
        lines.append(verdict(pf <= mp, f"{lc}, slow link: popfetch/mpop = {pf / mp:.2f} (target <= 1.00)"))
    if pf and fl:
        lines.append(verdict(pf <= 1.1 * fl, f"{lc}, slow link: popfetch/floor = {pf / fl:.2f} (target <= 1.10)"))
    for peer in ("fetchmail", "getmail6"):
        other = med("c", peer)
        if pf and other:
            lines.append(verdict(other >= 10 * pf,
                                 f"{lc}, slow link: {peer}/popfetch = {other / pf:.1f}x (target >= 10x)"))
    r, m = s.get("d", {}).get("popfetch"), s.get("d", {}).get("mpop")
    if r and m:
        lines.append(verdict(r["median"] <= m["median"], f"{short('d')}: popfetch/mpop = "
                             f"{r['median'] / m['median']:.2f} (target <= 1.00)"))
        lines.append(verdict(r["rss"] <= m["rss"], f"{short('d')}: popfetch peak RSS {r['rss']:.1f} MB, "
                             f"mpop {m['rss']:.1f} MB (target: no more than mpop)"))
    j1, j4 = med("e", "popfetch -j 1"), med("e", "popfetch -j 4")
    if j1 and j4:
        lines.append(verdict(j1 >= 3 * j4, f"4 accounts: -j 1 / -j 4 = {j1 / j4:.2f}x (target >= 3x)"))
    md, mb = med("f", "popfetch (Maildir)"), med("f", "popfetch (mbox)")
    if md and mb:
        lines.append(verdict(mb <= 1.3 * md, f"mbox: popfetch mbox/Maildir = {mb / md:.2f} (target <= 1.30)"))
    mp = med("f", "mpop (mbox)")
    if mb and mp:
        lines.append(verdict(mb <= mp, f"mbox: popfetch/mpop = {mb / mp:.2f} (target <= 1.00)"))
    clean, dirty, mp = med("g", "popfetch (no dirty data)"), med("g", "popfetch"), med("g", "mpop")
    if clean and dirty:
        lines.append(verdict(dirty <= 1.5 * clean,
                             f"after 1 GB of unwritten data: popfetch {dirty / clean:.2f}x its clean time (target <= 1.5x)"))
    if dirty and mp:
        lines.append(verdict(dirty <= mp, f"after 1 GB of unwritten data: popfetch/mpop = {dirty / mp:.2f} (target <= 1.00)"))
    for key, what, limit32 in (("fleet", "first run", 0.25), ("fleet-again", "nothing new", 0.5)):
        mp = med(key, "mpop -a")
        j1, j32 = med(key, "popfetch -j 1"), med(key, "popfetch -j 32")
        if j32 and mp:
            # On a machine that runs the server too, no client can finish
            # before the CPU work of all those logins is done: say how
            # near -j 32 came to that bound.
            # What the rest of the machine (the server) used is a bound
            # that no client, however cheap, can get under.
            cores = os.cpu_count() or 1
            r32 = s[key]["popfetch -j 32"]
            cpu = r32["cpu"] / cores
            server = max(r32["cpu"] - r32["tool_cpu"], 0.0) / cores
            lines.append(verdict(j32 <= limit32 * mp, f"fleet, {what}: popfetch -j 32 / mpop = "
                                 f"{j32 / mp:.2f} (target <= {limit32:.2f}); the machine's CPU "
                                 f"work in that run, spread over {cores} cores, takes "
                                 f"{cpu:.2f} s: -j 32 took {j32 / cpu:.2f}x that; without "
                                 f"popfetch's own CPU it takes {server:.2f} s, "
                                 f"{server / mp:.2f}x mpop's time"))
        if j1 and mp:
            lines.append(verdict(j1 <= mp, f"fleet, {what}: popfetch -j 1 / mpop = {j1 / mp:.2f} "
                                 "(target <= 1.00)"))
    mp, j32 = med("fleet-wan", "mpop -a"), med("fleet-wan", "popfetch -j 32")
    if mp and j32:
        lines.append(verdict(j32 <= 0.25 * mp, f"fleet over the slow link, first run: popfetch -j 32 / mpop = "
                             f"{j32 / mp:.2f} (target <= 0.25)"))
    pf = med("mda", "popfetch (mda)")
    peers = [(med("mda", t), t.split()[0]) for t in ("mpop (mda)", "fetchmail (mda)")]
    peers = [p for p in peers if p[0]]
    if pf and peers:
        best, who = min(peers)
        lines.append(verdict(pf <= best, f"MDA: popfetch / fastest peer ({who}) = {pf / best:.2f} "
                             "(target <= 1.00)"))
    return "\n".join(lines)


def stop_on_term(signum, frame):
    # SIGTERM like Ctrl-C: subprocess.run kills the tool in hand, the
    # finally blocks stop the proxy.
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, stop_on_term)
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--port", type=int, required=True, help="Dovecot's POP3S port")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--popfetch", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--accounts", type=int, default=4)
    ap.add_argument("--huge-mb", type=int, default=100)
    ap.add_argument("--out", help="also write the table here")
    a = ap.parse_args()
    ctx = Ctx(a)

    # Dovecot builds its index of a Maildir on first access: pay that once,
    # untimed, for every mailbox.
    for user in sorted(ctx.passwords):
        r, err = run_once(ctx, f"warmup_{user}", floor_cmd, ctx.port, [user], 600)
        if err:
            sys.exit(f"warm-up of {user} failed: {err}")

    tools = [("popfetch", popfetch_cmd()), ("mpop", mpop_cmd), ("fetchmail", fetchmail_cmd),
             ("getmail6", getmail_cmd), ("floor", floor_cmd)]
    n_bench, n_delay = len(ctx.manifest("bench")), len(ctx.manifest("delay"))
    accounts = [f"acct{i}" for i in range(1, a.accounts + 1)]
    per_acct = len(ctx.manifest(accounts[0]))
    fleet = sorted(u for u in ctx.passwords if u.startswith("fleet"))
    per_fleet = len(ctx.manifest(fleet[0])) if fleet else 0
    # The fleet on one server: popfetch may open 32 sessions to it at once
    # (max_connections_per_host, default 4), so that -j 8 and -j 32 mean it.
    fleet_tools = [(f"popfetch -j {j}", popfetch_cmd(j, per_host=32)) for j in (1, 8, 32)]
    fleet_tools += [("popfetch -j 32 (auth auto: SCRAM-SHA-256)", popfetch_cmd(32, per_host=32, auth=None)),
                    ("mpop -a", mpop_cmd), ("fetchmail", fetchmail_new_cmd)]
    # The same fleet behind the delay proxy: a provider is not on loopback,
    # and on 2 cores the loopback fleet is bound by the server's CPU.
    wan_tools = [("popfetch -j 32", popfetch_cmd(32, per_host=32)),
                 ("mpop -a", mpop_cmd), ("fetchmail", fetchmail_new_cmd)]
    plan = [  # key, scenario id for BENCH_SKIP, name, entries, port ("proxy": the delay proxy)
        ("a", "a", f"a. {n_bench:,} msgs, TLS, Maildir",
         [(t, b, ["bench"]) for t, b in tools], a.port),
        ("c", "c", f"c. {n_delay:,} msgs, {a.delay_ms:g} ms each way",
         [(t, b, ["delay"]) for t, b in tools], "proxy"),
        ("d", "d", f"d. one {a.huge_mb} MB msg",
         [(t, b, ["huge"]) for t, b in tools], a.port),
        ("e", "e", f"e. {len(accounts)} accounts x {per_acct}, {a.delay_ms:g} ms",
         [("popfetch -j 1", popfetch_cmd(1), accounts),
          (f"popfetch -j {len(accounts)}", popfetch_cmd(len(accounts)), accounts),
          ("mpop (sequential)", mpop_cmd, accounts)], "proxy"),
        ("f", "f", f"f. {n_bench:,} msgs, TLS, mbox",
         [("popfetch (Maildir)", popfetch_cmd(), ["bench"]),
          ("popfetch (mbox)", popfetch_cmd(mbox=True), ["bench"]),
          ("mpop (mbox)", mpop_mbox_cmd, ["bench"])], a.port),
        ("g", "g", f"g. {n_delay:,} msgs, TLS, after 1 GB of another program's unwritten data",
         [("popfetch (no dirty data)", popfetch_cmd(), ["delay"]),
          ("popfetch", after_dirty_gigabyte(popfetch_cmd()), ["delay"]),
          ("mpop", after_dirty_gigabyte(mpop_cmd), ["delay"])], a.port),
        ("fleet", "fleet", f"fleet. {len(fleet)} accounts x {per_fleet}, TLS, first run",
         [(t, kept_as(t, b), fleet) for t, b in fleet_tools], a.port),
        ("fleet-again", "fleet", f"fleet. {len(fleet)} accounts x {per_fleet}, TLS, nothing new",
         [(t, nothing_new(t, b, (0, 1) if t == "fetchmail" else (0,)), fleet)
          for t, b in fleet_tools], a.port),
        ("fleet-wan", "fleet-wan", f"fleet-wan. {len(fleet)} accounts x {per_fleet}, {a.delay_ms:g} ms, first run",
         [(t, b, fleet) for t, b in wan_tools], "proxy"),
        ("mda", "mda", f"mda. {n_bench:,} msgs, TLS, through an MDA",
         [("popfetch (mda)", popfetch_cmd(mda=True), ["bench"]),
          ("mpop (mda)", mpop_mda_cmd, ["bench"]),
          ("fetchmail (mda)", fetchmail_cmd, ["bench"])], a.port),
    ]
    scenarios = {}
    proxy = None
    try:
        for key, sid, name, entries, port in plan:
            if skipped(sid):
                print(f"== {name}: skipped (BENCH_SKIP)", file=sys.stderr, flush=True)
                continue
            if sid.startswith("fleet") and not fleet:
                continue
            if port == "proxy":
                if proxy is None:
                    proxy, pport = start_proxy(a.port, a.delay_ms)
                port = pport
            scenarios[key] = scenario(ctx, sid, name, entries, port, a.reps, 900)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait()
    text = table(scenarios) + "\n\nRatios compare medians. Peak RSS is the largest of the runs.\n\n"
    text += "Targets:\n" + targets(scenarios) + "\n"
    if SKIP:
        text += f"\nLeft out (BENCH_SKIP): {' '.join(sorted(SKIP))}\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
