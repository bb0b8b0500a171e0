#!/usr/bin/env bash
# Fetches Debian 13 (trixie)'s libc6 with a private apt state and unpacks it
# into .work/glibc, so that Tailcall's binary (built against glibc 2.38+) runs
# through that folder's dynamic loader on Debian 12 (glibc 2.36). Nothing is
# installed system-wide: the package lists, the cache and the .deb all stay
# under .work/apt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$here/.work"
glibc="$work/glibc"
if [ -x "$glibc/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ]; then
  exit 0
fi
apt_dir="$work/apt"
mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc/preferences.d" "$apt_dir/debs"
# The machine's own Debian mirror, read from its apt sources, so that this
# script names no host itself.
mirror="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -v -- '-security' | grep -oE 'https?://[^ ]+/debian/?' | head -n1 || true)"
mirror="${mirror%/}"
if [ -z "$mirror" ]; then
  echo "no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR" >&2
  mirror="${DEBIAN_MIRROR:?}"
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$keyring] $mirror trixie main" > "$apt_dir/sources.list"
apt_opts=(
  -o "Dir::State=$apt_dir/state"
  -o "Dir::State::status=/dev/null"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::Preferences=$apt_dir/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
  -o "APT::Architecture=amd64"
  -o "APT::Architectures=amd64"
  -o "Acquire::Languages=none"
)
apt-get "${apt_opts[@]}" update
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download libc6)
mkdir -p "$glibc"
dpkg-deb -x "$apt_dir"/debs/libc6_*.deb "$glibc"
"$glibc/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --version | head -n1
