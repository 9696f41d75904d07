// Helpers for the request-parser tests.
#pragma once

#include <doctest/doctest.h>

#include <string_view>

#include "gdbstub/request.h"

namespace s390b::rsp::test {

// Parses `payload`, requires success and the alternative T, and returns it.
template <typename T>
T parse_as(std::string_view payload) {
  const ParseResult r = parse_request(payload);
  INFO("payload: ", std::string(payload));
  REQUIRE(r.has_value());
  REQUIRE(std::holds_alternative<T>(*r));
  return std::get<T>(*r);
}

// Parses `payload` and requires the given error.
inline void expect_error(std::string_view payload, ParseError expected) {
  const ParseResult r = parse_request(payload);
  INFO("payload: ", std::string(payload));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == expected);
}

inline void expect_unknown(std::string_view payload, std::string_view name) {
  const auto u = parse_as<Unknown>(payload);
  CHECK(u.name == name);
}

}  // namespace s390b::rsp::test
