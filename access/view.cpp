#include "access/view.h"

#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "access/memop_request.h"
#include "backends/memop.h"

namespace s390b {

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

tl::expected<AddressSpace, std::string> parse_view(std::string_view text) {
  const auto w = split_words(text);
  using Kind = AddressSpace::Kind;
  auto number = [&](std::size_t i, std::uint64_t max) -> tl::expected<std::uint64_t, std::string> {
    if (i >= w.size()) return tl::unexpected(fmt::format("view {} needs a value", w[0]));
    auto v = parse_number(w[i]);
    if (!v || *v > max) return tl::unexpected(fmt::format("bad value '{}' for view {}", w[i], w[0]));
    return *v;
  };
  if (w.empty()) return tl::unexpected(std::string("no view given"));
  const std::string& k = w[0];
  std::size_t used = 1;
  AddressSpace v;
  if (k == "cpu") {
    v = AddressSpace::of(Kind::cpu);
    if (w.size() >= 2) {
      if (w[1] != "ar") return tl::unexpected(std::string("usage: view cpu [ar N]"));
      auto n = number(2, access_register_count - 1);
      if (!n) return tl::unexpected(n.error());
      v.ar = static_cast<std::uint8_t>(*n);
      used = 3;
    }
  } else if (k == "primary") {
    v = AddressSpace::of(Kind::primary);
  } else if (k == "secondary") {
    v = AddressSpace::of(Kind::secondary);
  } else if (k == "home") {
    v = AddressSpace::of(Kind::home);
  } else if (k == "real") {
    v = AddressSpace::of(Kind::real);
  } else if (k == "absolute") {
    v = AddressSpace::of(Kind::absolute);
  } else if (k == "ar") {
    auto n = number(1, access_register_count - 1);
    if (!n) return tl::unexpected(n.error());
    v = AddressSpace::access_reg(static_cast<std::uint8_t>(*n));
    used = 2;
  } else if (k == "alet") {
    auto n = number(1, 0xffffffff);
    if (!n) return tl::unexpected(n.error());
    v = AddressSpace::with_alet(static_cast<std::uint32_t>(*n));
    used = 2;
  } else if (k == "asce") {
    auto n = number(1, ~std::uint64_t{0});
    if (!n) return tl::unexpected(n.error());
    v = AddressSpace::with_asce(Asce{*n});
    used = 2;
  } else {
    return tl::unexpected(fmt::format("unknown view '{}' (cpu, primary, secondary, home, ar N, alet X, asce X, real, absolute)", k));
  }
  if (used != w.size()) return tl::unexpected(fmt::format("unexpected '{}' after view {}", w[used], k));
  return v;
}

}  // namespace s390b
