# shellcheck shell=bash
# The Debian packages s390bridge needs to build, test and demo: the one list, sourced by
# scripts/test and scripts/demo. Add a package here and both install it.
S390B_PACKAGES=(
  cmake make g++ clang
  libclang-rt-14-dev          # libFuzzer and sanitizer runtimes for clang
  libasio-dev libfmt-dev doctest-dev libexpected-dev libcli11-dev nlohmann-json3-dev
  libbenchmark-dev
  zlib1g-dev liblzo2-dev libsnappy-dev libzstd-dev  # kdump page compressions
  g++-s390x-linux-gnu         # big-endian cross build ...
  qemu-user-static            # ... run under qemu-s390x-static
  gdb-multiarch               # end-to-end tests with a real gdb
  qemu-system-misc            # qemu-system-s390x guests
  python3 cpio                # e2e drivers; the real guest's initramfs
  help2man                    # the s390bridge(1) man page, from the command's --help
  python3-drgn                # an independent reader of dumps, for the inspection figures
  python3-libkdumpfile        # an independent reader of the kdump files `dump` writes (e2e 25)
)

# s390b_ensure_packages: installs whatever in S390B_PACKAGES is missing (one apt-get update,
# one apt-get install). No-op when all are there, so it costs nothing on a set-up machine.
s390b_ensure_packages() {
  if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    echo "warning: not a Debian system; install by hand: ${S390B_PACKAGES[*]}" >&2
    return 0
  fi
  local missing=() pkg
  for pkg in "${S390B_PACKAGES[@]}"; do
    dpkg-query -W -f='${db:Status-Status}\n' "$pkg" 2>/dev/null | grep -qx installed ||
      missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0

  echo "installing Debian packages: ${missing[*]}"
  local as_root=()
  ((EUID == 0)) || as_root=(sudo)
  # --no-install-recommends keeps a fresh machine lean; everything needed is listed above
  # (make is only a Recommends of cmake, hence listed).
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
