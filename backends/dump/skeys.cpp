#include "backends/dump/skeys.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace s390b::dump {

std::optional<StorageKey> StorageKeyTable::find(std::uint64_t frame) const {
  auto it = std::upper_bound(runs_.begin(), runs_.end(), frame,
                             [](std::uint64_t f, const Run& r) { return f < r.first_frame; });
  if (it == runs_.begin()) return std::nullopt;
  --it;
  if (frame >= it->end_frame()) return std::nullopt;
  return it->keys[frame - it->first_frame];
}

bool StorageKeyTable::append(std::uint64_t frame, StorageKey key) {
  if (frame >= skey_frame_limit) return false;
  if (!runs_.empty() && frame < runs_.back().end_frame()) return false;
  if (runs_.empty() || frame != runs_.back().end_frame()) runs_.push_back(Run{frame, {}});
  runs_.back().keys.push_back(key);
  ++frame_count_;
  return true;
}

namespace {

// Key-byte bits as QEMU prints them (FP, REF, ch, reserved); StorageKey names the first three.
constexpr std::uint8_t reserved_bit = 0x01;

// A cursor over one line; every step either consumes what it expects or fails.
class LineCursor {
 public:
  explicit LineCursor(std::string_view line) : line_(line) {}

  bool literal(std::string_view s) {
    if (line_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }
  template <typename T>
  bool number(T& out, int base) {
    const char* first = line_.data() + pos_;
    const char* last = line_.data() + line_.size();
    // from_chars would take a sign for signed types only; the file never has one.
    if (first == last || *first == '+' || *first == '-') return false;
    auto [ptr, ec] = std::from_chars(first, last, out, base);
    if (ec != std::errc{}) return false;
    pos_ += static_cast<std::size_t>(ptr - first);
    return true;
  }
  bool at_end() const { return pos_ == line_.size(); }
  std::size_t column() const { return pos_ + 1; }

 private:
  std::string_view line_;
  std::size_t pos_ = 0;
};

struct LineError {
  std::string what;
};

// A flag field agrees with the key when it prints the masked bit (QEMU) or 0/1.
bool flag_matches(unsigned printed, std::uint8_t key, std::uint8_t bit) {
  const bool set = key & bit;
  return set ? (printed == bit || printed == 1) : printed == 0;
}

tl::expected<std::pair<std::uint64_t, StorageKey>, LineError> parse_line(std::string_view line) {
  LineCursor c(line);
  auto expected_at = [&](std::string_view what) {
    return tl::unexpected(LineError{fmt::format("column {}: expected {}", c.column(), what)});
  };
  std::uint64_t frame = 0;
  unsigned key = 0, acc = 0, fp = 0, ref = 0, ch = 0, reserved = 0;
  if (!c.literal("page=")) return expected_at("\"page=\"");
  if (!c.number(frame, 16)) return expected_at("a hexadecimal frame number");
  if (!c.literal(": key(")) return expected_at("\": key(\"");
  if (!c.number(key, 10)) return expected_at("a decimal key");
  if (!c.literal(") => ACC=")) return expected_at("\") => ACC=\"");
  if (!c.number(acc, 16)) return expected_at("a hexadecimal access key");
  if (!c.literal(", FP=")) return expected_at("\", FP=\"");
  if (!c.number(fp, 10)) return expected_at("a number");
  if (!c.literal(", REF=")) return expected_at("\", REF=\"");
  if (!c.number(ref, 10)) return expected_at("a number");
  if (!c.literal(", ch=")) return expected_at("\", ch=\"");
  if (!c.number(ch, 10)) return expected_at("a number");
  if (!c.literal(", reserved=")) return expected_at("\", reserved=\"");
  if (!c.number(reserved, 10)) return expected_at("a number");
  if (!c.at_end()) return expected_at("the end of the line");

  if (key > 0xff) return tl::unexpected(LineError{fmt::format("key({}) is not a byte", key)});
  const auto k = static_cast<std::uint8_t>(key);
  const StorageKey sk{k};
  if (acc != sk.access_key()) {
    return tl::unexpected(LineError{fmt::format("ACC={:X} contradicts key({})", acc, key)});
  }
  struct Flag {
    std::string_view name;
    unsigned printed;
    std::uint8_t bit;
  };
  for (const Flag& f : {Flag{"FP", fp, StorageKey::f_bit}, Flag{"REF", ref, StorageKey::r_bit},
                        Flag{"ch", ch, StorageKey::c_bit}, Flag{"reserved", reserved, reserved_bit}}) {
    if (!flag_matches(f.printed, k, f.bit)) {
      return tl::unexpected(LineError{fmt::format("{}={} contradicts key({})", f.name, f.printed, key)});
    }
  }
  return std::pair{frame, sk};
}

}  // namespace

tl::expected<StorageKeyTable, SkeysError> parse_skeys(std::string_view text) {
  StorageKeyTable table;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;

    auto parsed = parse_line(line);
    if (!parsed) {
      return tl::unexpected(SkeysError{line_no, fmt::format("line {}: {}", line_no, parsed.error().what)});
    }
    const auto [frame, key] = *parsed;
    if (frame >= skey_frame_limit) {
      return tl::unexpected(SkeysError{
          line_no, fmt::format("line {}: frame {:#x} is beyond the 64-bit address space", line_no, frame)});
    }
    if (!table.append(frame, key)) {
      return tl::unexpected(SkeysError{
          line_no, fmt::format("line {}: frame {:#x} is not above the previous frame {:#x}", line_no,
                               frame, table.runs().back().end_frame() - 1)});
    }
  }
  return table;
}

}  // namespace s390b::dump
