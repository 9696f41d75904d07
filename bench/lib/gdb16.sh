# shellcheck shell=bash
# Debian trixie's GDB 16 (gdb-multiarch 16.3: binary `x` when the stub offers
# binary-upload) on a bookworm host: a debootstrap root (~350 MB, built once), gdb run in
# it with chroot (which shares the host's network: 127.0.0.1 ports work; files gdb writes
# must be inside the root). Sourced by bench/gdb-throughput and bench/qemu-live.
#
#   S390B_GDB16_ROOT   the root (set it to use another): S390B_CACHE/trixie-gdb, the
#                      cache defaulting to ~/.cache/s390bridge
#   s390b_gdb16_present  true when the root holds gdb-multiarch
#   s390b_gdb16_build    builds the root when it is missing (downloads; needs root and
#                        debootstrap, installed with apt-get when missing)

S390B_GDB16_ROOT=${S390B_GDB16_ROOT:-${S390B_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/s390bridge}/trixie-gdb}

s390b_gdb16_present() { [[ -x $S390B_GDB16_ROOT/usr/bin/gdb-multiarch ]]; }

s390b_gdb16_build() {
  local root=$S390B_GDB16_ROOT cache=${S390B_GDB16_ROOT%/*} lib
  s390b_gdb16_present && return 0
  if ((EUID != 0)); then
    echo "building the GDB 16 root needs root (debootstrap)" >&2
    return 1
  fi
  # A half-built root is removed first: never through a mount (a bind mount left by hand,
  # docs/testing.md's GDB 16 e2e recipe) into the rest of the machine.
  if awk -v r="$root" '$5 == r || index($5, r "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "something is mounted under $root: unmount it first" >&2
    return 1
  fi
  if ! command -v debootstrap >/dev/null; then
    # The list is local: the caller's S390B_PACKAGES (if any) stays as it was.
    local -a S390B_PACKAGES
    lib=$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/packages.sh
    # shellcheck source=scripts/lib/packages.sh
    source "$lib"
    S390B_PACKAGES=(debootstrap)
    s390b_ensure_packages || return 1
  fi
  echo "== building a Debian trixie root with gdb-multiarch in $root (once, ~350 MB)"
  rm -rf "$root"
  mkdir -p "$cache"
  debootstrap --variant=minbase --include=gdb-multiarch,python3 trixie "$root" http://deb.debian.org/debian \
    >"$cache/debootstrap.log" 2>&1 || {
    echo "debootstrap failed; see $cache/debootstrap.log" >&2
    return 1
  }
}
