# shellcheck shell=bash disable=SC2034 # GD_* results are read by the sourcing test
# Helpers for tests/e2e/10-gdb-demo.sh: a `s390bridge serve --demo` server on a free
# loopback port, gdb-multiarch batch sessions split into named sections, and checks on
# those sections. Sourced, not run (not executable: scripts/test treats it as a helper).
#
#   gd_need_packages PKG...      install missing Debian packages (apt-get; sudo only when
#                                not root); returns 1 with GD_SKIP_REASON when impossible
#   gd_workdir                   GD_WORK: a private temp directory (gd_cleanup removes it)
#   gd_serve NAME ARGS...        start `s390bridge serve --demo --port 0 ARGS` (stdout in
#                                $GD_WORK/NAME.out, stderr in NAME.err); sets GD_PORT, GD_PID
#   gd_wait_exit PID SECONDS     wait for a server to exit by itself; 1 if it did not
#   gd_cleanup                   stop every server still running, remove GD_WORK
#
#   gd_begin                     start a new gdb command list
#   sec NAME                     start section NAME (its output is checked by name)
#   ex CMD...                    add gdb commands (each one -ex; an error in one does not
#                                stop the next)
#   want LINE... | want_exact LINE... | want_sub TEXT | want_re ERE | wont_sub TEXT
#                                checks on the current section, run by gd_verify; lines
#                                are compared after normalisation (see gd_normalize)
#   gd_run NAME PORT [ARGS...]   run gdb-multiarch -batch with the list (plus ARGS before
#                                it); transcript $GD_WORK/NAME.txt, sections NAME.sec/
#   gd_verify NAME               run the recorded checks against NAME's sections; counts
#                                failures in GD_FAILED and prints each with its section
#                                (GD_VERBOSE=1: an "ok [NAME/SECTION] ..." line for each pass)
#
# GD_BRIDGE must name the s390bridge binary before gd_serve.

GD_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GD_PY=$GD_LIB_DIR/gdb_demo.py
# shellcheck source=tests/e2e/lib/apt.sh
source "$GD_LIB_DIR/apt.sh"
GD_SKIP_REASON=
GD_FAILED=0
GD_CHECKS=0
GD_PIDS=()
GD_GDB_TIMEOUT=${GD_GDB_TIMEOUT:-60}

gd_log() { printf 'gdb-demo: %s\n' "$*" >&2; }
gd_py() { python3 "$GD_PY" "$@"; }

gd_need_packages() {
  local missing=() pkg
  if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    for pkg in "$@"; do
      case $pkg in
        gdb-multiarch) command -v gdb-multiarch >/dev/null || missing+=("$pkg") ;;
        *) command -v "$pkg" >/dev/null || missing+=("$pkg") ;;
      esac
    done
    ((${#missing[@]} == 0)) && return 0
    GD_SKIP_REASON="not a Debian system (no dpkg/apt-get) and ${missing[*]} missing"
    return 1
  fi
  e2e_apt_install "$@" || { GD_SKIP_REASON=$E2E_SKIP_REASON; return 1; }
}

gd_workdir() {
  GD_WORK=$(mktemp -d "${TMPDIR:-/tmp}/s390b-gdb-demo.XXXXXX")
}

# gd_serve NAME ARGS...: the server binds 127.0.0.1 and port 0 (the kernel picks a free
# port); the port is read from its "listening on 127.0.0.1:PORT" line.
gd_serve() {
  local name=$1 i
  shift
  : >"$GD_WORK/$name.out"
  : >"$GD_WORK/$name.err"
  "$GD_BRIDGE" serve --demo --host 127.0.0.1 --port 0 "$@" >"$GD_WORK/$name.out" 2>"$GD_WORK/$name.err" </dev/null &
  GD_PID=$!
  GD_PIDS+=("$GD_PID")
  GD_PORT=
  for ((i = 0; i < 100; i++)); do # 10 s
    GD_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$GD_WORK/$name.out")
    [[ -n $GD_PORT ]] && return 0
    kill -0 "$GD_PID" 2>/dev/null || break
    sleep 0.1
  done
  gd_log "server $name did not report a port; stdout:"
  cat "$GD_WORK/$name.out" >&2
  gd_log "stderr:"
  cat "$GD_WORK/$name.err" >&2
  return 1
}

gd_wait_exit() {
  local pid=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  return 1
}

gd_cleanup() {
  local pid
  for pid in "${GD_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n ${GD_WORK:-} && -d $GD_WORK ]]; then
    if [[ -n ${S390B_KEEP:-} ]]; then
      echo "kept $GD_WORK"
    else
      rm -rf "$GD_WORK"
    fi
  fi
}

# --- gdb command lists and checks ----------------------------------------------------

gd_begin() {
  GD_ARGS=()
  GD_SEC=_connect
  GD_SECS=()
  CK_SEC=()
  CK_KIND=()
  CK_TEXT=()
}

sec() {
  GD_SEC=$1
  [[ " ${GD_SECS[*]} " != *" $1 "* ]] || { gd_log "section $1 used twice"; exit 2; }
  GD_SECS+=("$1")
  GD_ARGS+=(-ex "echo @@ $1\\n")
}

ex() {
  local c
  for c in "$@"; do GD_ARGS+=(-ex "$c"); done
}

_gd_check() {
  CK_SEC+=("$GD_SEC")
  CK_KIND+=("$1")
  CK_TEXT+=("$2")
}
want() { local l; for l in "$@"; do _gd_check line "$l"; done; }
want_exact() { _gd_check exact "$(printf '%s\n' "$@")"; }
want_sub() { _gd_check sub "$1"; }
want_re() { _gd_check re "$1"; }
wont_sub() { _gd_check nosub "$1"; }

# gd_normalize: every run of blanks becomes one space, leading and trailing blanks go, and GDB's
# value-history numbers ("$12 = ") become "$ = ", so checks do not depend on history.
# GDB >= 16 (error-message+) also reports a failed monitor command after its output, with
# the `E.` text of our qRcmd reply; GDB 13 gets OK. That line goes, so the checks of the
# output itself hold for both.
gd_normalize() {
  sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/^ //' -e 's/ $//' -e 's/^\$[0-9][0-9]* = /$ = /' \
    -e '/^Protocol error with Rcmd: monitor command failed\.$/d'
}

gd_run() {
  local name=$1 port=$2
  shift 2
  local t=$GD_WORK/$name.txt
  LC_ALL=C timeout "$GD_GDB_TIMEOUT" gdb-multiarch -nx -batch \
    -ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0' -ex 'set height 0' \
    -ex 'set print elements 0' -ex 'set architecture s390:64-bit' -ex 'set endian big' \
    "$@" -ex "target remote 127.0.0.1:$port" "${GD_ARGS[@]}" >"$t" 2>&1 </dev/null || {
    local rc=$?
    gd_log "gdb-multiarch ($name) exited with $rc; transcript:"
    cat "$t" >&2
    return 1
  }
  gd_split "$name"
}

# gd_split NAME: NAME.txt -> NAME.sec/SECTION.txt (normalised; "_connect" is what comes
# before the first section).
gd_split() {
  local d=$GD_WORK/$1.sec
  rm -rf "$d"
  mkdir -p "$d"
  gd_normalize <"$GD_WORK/$1.txt" | awk -v dir="$d" '
    BEGIN { f = dir "/_connect.txt"; printf "" > f }
    /^@@ / { close(f); f = dir "/" substr($0, 4) ".txt"; printf "" > f; next }
    { print > f }'
}

gd_verify() {
  local name=$1 i f ok kind text
  local d=$GD_WORK/$name.sec
  for i in "${!CK_SEC[@]}"; do
    f=$d/${CK_SEC[$i]}.txt
    kind=${CK_KIND[$i]}
    text=${CK_TEXT[$i]}
    GD_CHECKS=$((GD_CHECKS + 1))
    ok=0
    if [[ -f $f ]]; then
      case $kind in
        line) grep -Fxq -- "$text" "$f" && ok=1 ;;
        exact) [[ $(<"$f") == "$text" ]] && ok=1 ;;
        sub) grep -Fq -- "$text" "$f" && ok=1 ;;
        re) grep -Eq -- "$text" "$f" && ok=1 ;;
        nosub) grep -Fq -- "$text" "$f" || ok=1 ;;
      esac
    fi
    if ((ok)); then
      [[ -z ${GD_VERBOSE:-} ]] || echo "ok [$name/${CK_SEC[$i]}] $kind: $text"
      continue
    fi
    GD_FAILED=$((GD_FAILED + 1))
    {
      echo "FAIL [$name/${CK_SEC[$i]}] $(case $kind in
        line) echo "expected the line:" ;; exact) echo "expected exactly:" ;;
        sub) echo "expected text:" ;; re) echo "expected a line matching:" ;;
        nosub) echo "did not expect:" ;; esac)"
      printf '    | %s\n' "$text"
      if [[ -f $f ]]; then
        echo "  section output (normalised):"
        sed 's/^/    > /' "$f"
      else
        echo "  section missing from $GD_WORK/$name.txt (did gdb stop early?)"
      fi
    } >&2
  done
}
