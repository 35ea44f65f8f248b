#!/usr/bin/env python3
"""Seeded benchmark corpus, written straight into a server-side Maildir.

Messages are stored the way Dovecot's own delivery stores them: LF line
endings, in cur/ with the Seen flag (so POP3 sessions rename nothing), and
with ,S=<size>,W=<virtual size> in the file name (so Dovecot answers LIST
without reading every file). A manifest beside them lists the SHA-256 of
each message, sorted, which is what every client's delivery is checked
against.

Mix (per message, from the seed): 5 % small (0.5-2 KB), 92.5 % 2-20 KB
(log-uniform), 2.5 % large (0.1-1 MB) multipart with a base64 attachment.
Bodies contain lone "." and ".." lines, lines starting with "." and with
"From ", and 8-bit UTF-8, so dot-stuffing and byte-exactness are exercised.
No Return-Path header: getmail replaces it, and the check is about the
message the server had, not about each tool's header policy.
"""

import argparse
import base64
import hashlib
import os
import random
import sys

WORDS = (
    "the of and to in is was for on that with as by at from this be are have "
    "an or not which but it all were their when there been one will has more "
    "would about mail server message fetch inbox header body folder account "
    "delivery report meeting invoice schedule project quarterly budget draft "
    "review attached please regards thanks tomorrow monday friday deadline "
    "Grüße Köln naïve café façade smörgåsbord Ærø déjà-vu"
).split()


def line_pool(rng, n=4000):
    pool = []
    for _ in range(n):
        target = rng.randint(20, 76)
        words = []
        length = 0
        while length < target:
            w = rng.choice(WORDS)
            words.append(w)
            length += len(w) + 1
        line = " ".join(words).capitalize() + "."
        pool.append(line)
    # Lines that POP3 must dot-stuff, or that naive mbox code would mangle.
    pool += [".", "..", ".hidden line starting with a dot", "From here on, nothing changes",
             ">From an already quoted line", "...", ". . ."]
    return pool


def text_body(rng, pool, size):
    out = []
    total = 0
    while total < size:
        if rng.random() < 0.02:
            line = rng.choice(pool[-7:])
        elif rng.random() < 0.05:
            line = ""
        else:
            line = rng.choice(pool)
        out.append(line)
        total += len(line.encode()) + 1
    return "\n".join(out) + "\n"


def headers(seed, seq, rng, content_type, extra=""):
    sender = rng.randint(1, 200)
    day = 1700000000 + seq * 613
    return (
        f"X-Bench-Seq: {seed}.{seq}\n"
        f"Message-ID: <bench.{seed}.{seq}@popfetch.invalid>\n"
        f"Date: {format_date(day)}\n"
        f"From: Sender {sender} <sender{sender}@example.org>\n"
        f"To: Bench <bench@example.net>\n"
        f"Subject: Benchmark message {seq} ({rng.choice(WORDS)} {rng.choice(WORDS)})\n"
        f"MIME-Version: 1.0\n"
        f"Content-Type: {content_type}\n"
        f"{extra}"
        "\n"
    )


def format_date(ts):
    import time

    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(ts))


def attachment_message(seed, seq, rng, pool, size):
    boundary = f"=_bench_{seed}_{seq}"
    head = headers(seed, seq, rng, f'multipart/mixed; boundary="{boundary}"')
    text = text_body(rng, pool, rng.randint(300, 3000))
    # base64 grows 4/3 plus a newline every 76 characters.
    raw_len = max(1, int((size - len(head) - len(text) - 400) * 57 / 77))
    data = base64.encodebytes(rng.randbytes(raw_len)).decode()
    return (
        head
        + f"This is a multi-part message in MIME format.\n\n--{boundary}\n"
        + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        + text
        + f"\n--{boundary}\n"
        + f'Content-Type: application/octet-stream; name="data-{seq}.bin"\n'
        + "Content-Transfer-Encoding: base64\n"
        + f'Content-Disposition: attachment; filename="data-{seq}.bin"\n\n'
        + data
        + f"\n--{boundary}--\n"
    )


def plain_message(seed, seq, rng, pool, size):
    head = headers(seed, seq, rng, "text/plain; charset=utf-8",
                   "Content-Transfer-Encoding: 8bit\n")
    return head + text_body(rng, pool, max(1, size - len(head)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, default=0, help="mixed messages to write")
    ap.add_argument("--huge-mb", type=int, default=0,
                    help="instead: one message of this many MB (base64 attachment)")
    ap.add_argument("--maildir", required=True, help="the server-side Maildir")
    ap.add_argument("--manifest", required=True, help="where to write sorted SHA-256 lines")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    pool = line_pool(rng)
    cur = os.path.join(args.maildir, "cur")
    os.makedirs(cur, exist_ok=True)
    digests = []
    total = 0

    def store(seq, text):
        nonlocal total
        data = text.encode()
        vsize = len(data) + data.count(b"\n")
        name = f"{1700000000 + seq}.M{seq}P{args.seed}.bench,S={len(data)},W={vsize}:2,S"
        with open(os.path.join(cur, name), "wb") as f:
            f.write(data)
        digests.append(hashlib.sha256(data).hexdigest())
        total += len(data)

    if args.huge_mb:
        store(1, attachment_message(args.seed, 1, rng, pool, args.huge_mb * 1024 * 1024))
    for seq in range(1, args.count + 1):
        kind = rng.random()
        if kind < 0.025:
            size = rng.randint(100 * 1024, 1024 * 1024)
            store(seq, attachment_message(args.seed, seq, rng, pool, size))
        elif kind < 0.075:
            store(seq, plain_message(args.seed, seq, rng, pool, rng.randint(512, 2048)))
        else:
            size = int(2048 * (10 ** rng.random()))  # log-uniform 2-20 KB
            store(seq, plain_message(args.seed, seq, rng, pool, size))

    digests.sort()
    with open(args.manifest, "w") as f:
        f.write("\n".join(digests) + "\n")
    print(f"{len(digests)} messages, {total / 1e6:.1f} MB -> {args.maildir}", file=sys.stderr)


if __name__ == "__main__":
    main()
