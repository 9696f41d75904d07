# shellcheck shell=bash
# The s390x builds of the kdump page-compression libraries (zlib, LZO, snappy, zstd) for
# the big-endian cross stage: their Debian -dev packages for s390x, downloaded with the
# private s390x apt of the real-guest harness (tests/e2e/lib/real-guest.sh rg_apt_setup:
# its own lists and state, the host's apt untouched) and unpacked (never installed) into
# a sysroot in the cache. The cross toolchain (cmake/s390x-linux-gnu.cmake) adds it to
# its find root through -DS390B_S390X_SYSROOT; the static archives (.a) are linked, so the
# test binary still needs nothing at run time.
#
#   s390b_s390x_sysroot   sets S390B_S390X_SYSROOT, or returns 1 (offline, no archive) with
#                         a reason on stderr; the stage then builds without the libraries
#                         and their pages are "not supported in this build".
# Sourced by scripts/test. Downloads once: a later call reads the stamp, no network.

S390B_SYSROOT_PACKAGES=(zlib1g-dev liblzo2-dev libsnappy-dev libzstd-dev)

s390b_s390x_sysroot() {
  # shellcheck source=tests/e2e/lib/real-guest.sh
  source "$S390B_ROOT/tests/e2e/lib/real-guest.sh"
  local root=$RG_CACHE/sysroot-s390x
  local stamp=$root/.fetched
  if [[ -r $stamp && $(<"$stamp") == "${S390B_SYSROOT_PACKAGES[*]}" ]]; then
    S390B_S390X_SYSROOT=$root
    return 0
  fi
  mkdir -p "$RG_CACHE" || return 1
  local lockfd rc=0
  exec {lockfd}>"$RG_CACHE/.lock"
  flock -w 900 "$lockfd" || { exec {lockfd}>&-; echo "sysroot: cache $RG_CACHE stays locked" >&2; return 1; }
  _s390b_sysroot_locked "$root" || rc=$?
  exec {lockfd}>&-
  ((rc == 0)) && S390B_S390X_SYSROOT=$root
  return "$rc"
}

_s390b_sysroot_locked() {
  local root=$1
  rg_apt_setup || { echo "sysroot: cannot derive Debian apt sources for s390x" >&2; return 1; }
  local apt=(apt-get -c "$RG_APT_CONF" -q)
  local debs=$RG_CACHE/sysroot-debs
  rm -rf "$debs" "$root.new"
  mkdir -p "$debs" "$root.new"
  if ! apt-cache -c "$RG_APT_CONF" show "${S390B_SYSROOT_PACKAGES[@]}" >/dev/null 2>&1; then
    # The lists are missing (no real-guest test ran yet) or stale: refresh them once.
    timeout 600 "${apt[@]}" update >"$RG_CACHE/apt/update.log" 2>&1 || true
  fi
  if ! (cd "$debs" && timeout 600 "${apt[@]}" download "${S390B_SYSROOT_PACKAGES[@]}") >&2; then
    echo "sysroot: apt-get download of ${S390B_SYSROOT_PACKAGES[*]} (s390x) failed" >&2
    return 1
  fi
  local deb
  for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$root.new" || { echo "sysroot: cannot unpack $deb" >&2; return 1; }
  done
  rm -rf "$root" "$debs"
  mv "$root.new" "$root"
  echo "${S390B_SYSROOT_PACKAGES[*]}" >"$root/.fetched"
}
