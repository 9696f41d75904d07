# shellcheck shell=bash
# What the CLI end-to-end scripts (05-cli-memop.sh, 06-cli-inspect.sh) share: fail/ok,
# finding the built s390bridge, a work directory removed at exit (S390B_KEEP=1 keeps it),
# and checking a one-line JSON answer with a python expression.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/cli-e2e.sh"
#   cli_e2e_setup NAME          # sets bridge and work, or exits (1 fail, 77 skip)
#   cli_e2e_json FILE EXPR      # FILE holds one JSON line j for which EXPR holds (h(s): hex
#                               # of an ASCII string); returns non-zero otherwise

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

cli_e2e_setup() {
  [[ -n ${S390B_BUILD:-} ]] || fail "set S390B_BUILD to the build directory holding cli/s390bridge"
  S390B_BUILD=$(cd "$S390B_BUILD" && pwd)
  bridge=$S390B_BUILD/cli/s390bridge
  [[ -x $bridge ]] || fail "$bridge not built"
  command -v python3 >/dev/null || { echo "SKIP: python3 is needed to check the JSON"; exit 77; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/s390b-e2e-$1.XXXXXX")
  trap cli_e2e_cleanup EXIT
}

cli_e2e_cleanup() { if [[ -z ${S390B_KEEP:-} ]]; then rm -rf "$work"; else echo "kept $work"; fi; }

cli_e2e_json() {
  python3 - "$1" "$2" <<'PY'
import json, sys
text, expr = open(sys.argv[1]).read(), sys.argv[2]
assert text.count("\n") == 1, "one line expected"
j = json.loads(text)
h = lambda s: s.encode().hex()
sys.exit(0 if eval(expr) else 1)
PY
}
