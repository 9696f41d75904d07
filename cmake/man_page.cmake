# Writes s390bridge(1) from the command's own help: help2man over `s390bridge --help` and
# `--version`, with a COMMANDS section holding every subcommand's --help, so the man page
# cannot drift from what the binary says.
#   cmake -DBRIDGE=<s390bridge> -DHELP2MAN=<help2man> -DOUT=<s390bridge.1> -P man_page.cmake
set(commands serve read translate find regs info memop dump)
set(include_file "${OUT}.include")
file(WRITE "${include_file}" "[COMMANDS]\n")
foreach(cmd IN LISTS commands)
  execute_process(COMMAND "${BRIDGE}" ${cmd} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BRIDGE} ${cmd} --help failed (${rc})")
  endif()
  # roff: a literal block per command; a leading dot or backslash must not be a request.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "\n\\." "\n\\\\&." help "${help}")
  file(APPEND "${include_file}" ".SS ${cmd}\n.nf\n${help}.fi\n")
endforeach()
execute_process(COMMAND "${HELP2MAN}" --no-info --no-discard-stderr --name "GDB remote-protocol server and memory inspection for s390x guests"
                        --include "${include_file}" --output "${OUT}" "${BRIDGE}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
