# The include direction of the layers (docs/architecture.md), checked on every file: run
# as a test (ctest: "layers") with -DROOT=<source dir>. A library may include its own
# headers and those of the layers below it, nothing above; CLI11 only in cli/ and
# gdbstub/ (the memop options), Asio only in gdbstub/ and cli/.
#
#   cmake -DROOT=. -P cmake/check_layers.cmake
cmake_minimum_required(VERSION 3.22)
get_filename_component(ROOT "${ROOT}" ABSOLUTE)
if(NOT ROOT)
  message(FATAL_ERROR "pass -DROOT=<the source directory>")
endif()

set(interface "backends/[a-z_]+\\.h")  # backend.h, memop.h, cpu_state.h, read_only_backend.h ...
# folder -> the project include paths it may use (regexes over the quoted path)
set(rule_translate "translate/")
set(rule_backends "${interface}|translate/")
set(rule_backends_emulated "${interface}|backends/emulated/|translate/")
set(rule_backends_dump "${interface}|backends/emulated/|backends/dump/|translate/")
set(rule_backends_kvm "${interface}|backends/kvm/|translate/")
set(rule_access "access/|${interface}|translate/")
set(rule_gdbstub "gdbstub/|access/|${interface}|translate/")
# Third-party headers a folder may not use.
set(deny_translate "CLI/|asio|nlohmann/")
set(deny_backends "CLI/|asio|nlohmann/")
set(deny_backends_emulated "CLI/|asio|nlohmann/")
set(deny_backends_dump "CLI/|asio|nlohmann/")
set(deny_backends_kvm "CLI/|asio|nlohmann/")
set(deny_access "CLI/|asio")
set(deny_gdbstub "")

set(failures "")
foreach(folder translate backends backends/emulated backends/dump backends/kvm access gdbstub)
  string(REPLACE "/" "_" key "${folder}")
  if(folder STREQUAL "backends")
    file(GLOB files "${ROOT}/backends/*.h" "${ROOT}/backends/*.cpp")
  else()
    file(GLOB_RECURSE files "${ROOT}/${folder}/*.h" "${ROOT}/${folder}/*.cpp")
  endif()
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    file(RELATIVE_PATH rel "${ROOT}" "${f}")
    foreach(line IN LISTS lines)
      if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
        set(path "${CMAKE_MATCH_1}")
        # Our headers are included from the root, so they start with a layer folder.
        if(path MATCHES "^(translate|backends|access|gdbstub|cli|tests|bench|examples)/")
          if(NOT path MATCHES "^(${rule_${key}})")
            string(APPEND failures "  ${rel}: includes \"${path}\", above or beside its layer\n")
          endif()
        endif()
      elseif(line MATCHES "#[ \t]*include[ \t]*<([^>]+)>" AND NOT "${deny_${key}}" STREQUAL "")
        set(path "${CMAKE_MATCH_1}")
        if(path MATCHES "^(${deny_${key}})")
          string(APPEND failures "  ${rel}: includes <${path}>, which this layer may not use\n")
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()

if(failures)
  message(FATAL_ERROR "layering violations (docs/architecture.md):\n${failures}")
endif()
message(STATUS "layers: every include points down")
