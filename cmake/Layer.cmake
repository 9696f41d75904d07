# s390b_layer(NAME DIR [DEPS ...]): one static library per layer from every .cpp under DIR
# (recursively), so adding a file needs no CMake edit.
function(s390b_layer name dir)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${dir}/*.cpp)
  if(srcs)
    add_library(${name} STATIC ${srcs})
    target_include_directories(${name} PUBLIC ${S390B_ROOT})
    target_link_libraries(${name} PUBLIC ${ARGN} PRIVATE s390b_warnings)
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${S390B_ROOT})
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
endfunction()
