#!/bin/sh
# Minimal MDA for the benchmark: write stdin as one new message in the Maildir
# given as $1 (tmp/ first, then a rename into new/). No fsync, no locking:
# the least work an MDA can do, so fetchmail is not charged for a heavy one.
set -eu
dir=$1
name="$(date +%s.%N).P$$.bench"
cat > "$dir/tmp/$name"
mv "$dir/tmp/$name" "$dir/new/$name"
