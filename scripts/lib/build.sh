# shellcheck shell=bash
# CMake helpers shared by scripts/test and scripts/demo, so build/ is configured the same
# way by both. Expects S390B_ROOT (the repo root) and S390B_JOBS to be set.

# s390b_configure DIR [cmake args...]: configure DIR (relative to the repo root).
s390b_configure() {
  local dir=$1
  shift
  cmake -S "$S390B_ROOT" -B "$S390B_ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
}

# s390b_build DIR [cmake --build args...]
s390b_build() {
  local dir=$1
  shift
  cmake --build "$S390B_ROOT/$dir" -j "$S390B_JOBS" "$@"
}

# s390b_native_build: build/, the native build with benchmarks (used by the native stage,
# the e2e stage as S390B_BUILD, and scripts/demo).
s390b_native_build() {
  s390b_configure build -DS390B_BENCH=ON
  s390b_build build
}
