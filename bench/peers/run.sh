#!/usr/bin/env bash
# The side-by-side benchmark in one command: installs the peers privately
# under bench/peers (npm packages from the committed lock file into
# node_modules, Debian 13's glibc into .work/glibc for Tailcall's binary),
# builds our gateway in release mode, and runs `bench peers`, which prints one
# markdown table and writes it to .work/table.md. Arguments are passed on to
# `bench peers` (for example `--rounds 1 --workloads w1,contact`); the
# environment variable SECONDS_PER_RUN sets the measured seconds of each run
# (default 5).
#
# Needs: Debian 12 (or later) with apt-get, dpkg-deb, Node.js 20+ with npm,
# and a Rust toolchain. Nothing is installed system-wide.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mkdir -p "$here/.work"

# The peers' packages, exactly as locked; the committed .npmrc keeps registry
# addresses out of the lock file.
if [ ! -x "$here/node_modules/.bin/hive-gateway" ] || [ ! -x "$here/node_modules/@tailcallhq/core-linux-x64-gnu/bin/tailcall" ]; then
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund)
fi

# Tailcall's binary needs glibc 2.38 or later; Debian 12 has 2.36.
"$here/fetch-libc.sh"

(cd "$root" && cargo build --release --bin contact-gateway --bin bench)

cd "$root"
exec target/release/bench --seconds "${SECONDS_PER_RUN:-5}" peers \
  --peers-dir "$here" --output "$here/.work/table.md" "$@"
