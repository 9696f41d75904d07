// The address-space views a memory access can go through, as people write them: one
// grammar for `monitor view`, `serve --view` and the inspection commands' --view.
//
//   cpu [ar N] | primary | secondary | home | ar N | alet X | asce X | real | absolute
//
// Numbers are decimal or 0x hex. Every view AddressSpace::describe() prints parses back
// to the same view (a round trip the tests and fuzz_monitor check).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "translate/space.h"

namespace s390b {

// The grammar above, for usage texts.
inline constexpr std::string_view view_grammar =
    "cpu [ar N] | primary | secondary | home | ar N | alet X | asce X | real | absolute";

tl::expected<AddressSpace, std::string> parse_view(std::string_view text);

// The words of a command line, split at white space (the view grammar's and the monitor's).
std::vector<std::string> split_words(std::string_view line);

}  // namespace s390b
