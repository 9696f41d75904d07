# shellcheck shell=bash
# Shared by the e2e helper libraries: installing the Debian packages a script needs.
#
# e2e_apt_install PKG...: installs those of the Debian packages that are missing, as root
# or through password-less sudo (an e2e script never prompts). Returns 1 with
# E2E_SKIP_REASON set when that is impossible here (the caller skips, exit 77).
e2e_apt_install() {
  E2E_SKIP_REASON=
  if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    E2E_SKIP_REASON="not a Debian system (no dpkg/apt-get); needs: $*"
    return 1
  fi
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${db:Status-Status}\n' "$pkg" 2>/dev/null | grep -qx installed || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  local as_root=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      E2E_SKIP_REASON="${missing[*]} missing and there is no root or password-less sudo to install them"
      return 1
    fi
  fi
  printf 'e2e: installing %s\n' "${missing[*]}" >&2
  local install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends)
  if ! "${install[@]}" "${missing[@]}" >&2; then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || true
    if ! "${install[@]}" "${missing[@]}" >&2; then
      E2E_SKIP_REASON="apt-get could not install ${missing[*]}"
      return 1
    fi
  fi
}
