# Cross build for s390x (big-endian z/Architecture) with Debian's s390x-linux-gnu toolchain.
# Binaries are static, and ctest runs them under qemu-user, so the whole suite runs on a
# big-endian host. scripts/test (stage s390x) configures it as:
#   cmake -B build-s390x -DCMAKE_TOOLCHAIN_FILE=cmake/s390x-linux-gnu.cmake \
#         -DS390B_FMT_HEADER_ONLY=ON -DS390B_BENCH=OFF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER s390x-linux-gnu-g++)

# Libraries and packages only from the target's sysroot; programs from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/s390x-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static, so qemu-user needs no s390x shared libraries (no QEMU_LD_PREFIX).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

find_program(S390B_QEMU_S390X NAMES qemu-s390x-static qemu-s390x)
if(S390B_QEMU_S390X)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${S390B_QEMU_S390X})
else()
  message(WARNING "qemu-s390x-static not found (package qemu-user-static): ctest cannot run")
endif()

# Header-only third-party libraries are architecture-independent, but adding /usr/include
# to the cross compiler's path would let the build machine's glibc headers in. Stage just
# those libraries in the build tree and add that directory with -isystem.
set(S390B_CROSS_HEADERS asio asio.hpp fmt doctest tl CLI nlohmann)
set(S390B_CROSS_HEADER_DIR ${CMAKE_BINARY_DIR}/s390x-header-only)
get_property(s390b_in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)
if(NOT s390b_in_try_compile) # compiler checks need none of them; don't litter their dirs
  file(MAKE_DIRECTORY ${S390B_CROSS_HEADER_DIR})
  foreach(h IN LISTS S390B_CROSS_HEADERS)
    if(NOT EXISTS /usr/include/${h})
      message(FATAL_ERROR "/usr/include/${h} is missing: install the packages in "
                          "scripts/lib/packages.sh (scripts/test does)")
    endif()
    file(CREATE_LINK /usr/include/${h} ${S390B_CROSS_HEADER_DIR}/${h} SYMBOLIC)
  endforeach()
endif()
set(CMAKE_CXX_FLAGS_INIT "-isystem ${S390B_CROSS_HEADER_DIR}")

# The s390x builds of the kdump page-compression libraries (scripts/lib/sysroot.sh unpacks
# their Debian -dev packages there); without it those compressions are left out.
if(S390B_S390X_SYSROOT)
  list(APPEND CMAKE_FIND_ROOT_PATH ${S390B_S390X_SYSROOT})
endif()
