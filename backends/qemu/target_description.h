// The register layout a stub describes in its target.xml (GDB manual, "Target
// Descriptions"): which registers exist, their numbers for `p`/`P`, their sizes.
//
// QEMU's s390x layout differs by version and accelerator (7.2 TCG: 103 registers, no
// prefix; KVM and 8.1+: the `virt` feature with ckc, cputm, last_break, prefix; KVM also
// pp and the pfault registers), so the bridge never assumes numbers: it reads them.
// Registers are numbered in document order (includes expanded in place), starting at 0,
// unless a <reg> carries regnum=, which restarts the count there (as GDB does).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace s390b::qemu {

struct RemoteRegister {
  std::string name;
  unsigned number = 0;
  unsigned bits = 0;
  std::string feature;  // the <feature name=...> it belongs to
};

class TargetDescription {
 public:
  // Reads one document by name ("target.xml", or an included file).
  using Fetch = std::function<tl::expected<std::string, std::string>(std::string_view annex)>;

  // Parses target.xml and every document it includes (at most `max_documents`, each
  // included once: a cycle or an endless chain is an error, not a hang).
  static tl::expected<TargetDescription, std::string> load(const Fetch& fetch);
  // Parses documents already fetched (tests): `root` and its includes through `fetch`.
  static tl::expected<TargetDescription, std::string> parse(std::string_view root, const Fetch& fetch);

  const std::vector<RemoteRegister>& registers() const { return registers_; }
  const RemoteRegister* find(std::string_view name) const;
  std::string architecture() const { return architecture_; }
  bool has_feature(std::string_view feature) const;

  static constexpr unsigned max_documents = 32;
  static constexpr unsigned max_registers = 1024;

 private:
  std::vector<RemoteRegister> registers_;
  std::vector<std::string> features_;
  std::string architecture_;
};

// The value of attribute `name` in one XML start tag's text (between `<` and `>`), with the
// five predefined entities decoded; nullopt if absent.
std::optional<std::string> xml_attribute(std::string_view tag, std::string_view name);

}  // namespace s390b::qemu
