#include "rsp/hex.h"

#include <limits>

namespace s390b::rsp {

const char* to_string(HexError e) {
  switch (e) {
    case HexError::Empty: return "missing hex number";
    case HexError::BadDigit: return "invalid hex digit";
    case HexError::OddLength: return "odd number of hex digits";
    case HexError::Overflow: return "hex number exceeds 64 bits";
    case HexError::BadEscape: return "binary data ends with a lone escape";
  }
  return "unknown hex error";
}

void hex_append(std::string& out, std::span<const std::uint8_t> bytes) {
  out.reserve(out.size() + 2 * bytes.size());
  for (std::uint8_t b : bytes) {
    out.push_back(hex_digit(b >> 4));
    out.push_back(hex_digit(b));
  }
}

std::string hex_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  hex_append(out, bytes);
  return out;
}

std::string hex_encode(std::string_view text) {
  std::string out;
  out.reserve(2 * text.size());
  for (char c : text) {
    const auto b = static_cast<std::uint8_t>(c);
    out.push_back(hex_digit(b >> 4));
    out.push_back(hex_digit(b));
  }
  return out;
}

namespace {

// Decodes into any container of byte-sized elements; both callers share the checks.
template <typename Out>
tl::expected<Out, HexError> decode_into(std::string_view hex) {
  if (hex.size() % 2 != 0) return tl::unexpected(HexError::OddLength);
  Out out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit_value(hex[i]);
    const int lo = hex_digit_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return tl::unexpected(HexError::BadDigit);
    out.push_back(static_cast<typename Out::value_type>((hi << 4) | lo));
  }
  return out;
}

}  // namespace

tl::expected<Bytes, HexError> hex_decode(std::string_view hex) { return decode_into<Bytes>(hex); }

tl::expected<std::string, HexError> hex_decode_text(std::string_view hex) {
  return decode_into<std::string>(hex);
}

tl::expected<std::uint64_t, HexError> parse_hex_u64(std::string_view digits) {
  if (digits.empty()) return tl::unexpected(HexError::Empty);
  std::uint64_t value = 0;
  constexpr std::uint64_t kTopNibbleFree = std::numeric_limits<std::uint64_t>::max() >> 4;
  for (char c : digits) {
    const int d = hex_digit_value(c);
    if (d < 0) return tl::unexpected(HexError::BadDigit);
    // Shifting in another nibble must not push significant bits out: a 17-digit address
    // is an error, not a wrap to a different address.
    if (value > kTopNibbleFree) return tl::unexpected(HexError::Overflow);
    value = (value << 4) | static_cast<std::uint64_t>(d);
  }
  return value;
}

tl::expected<std::uint64_t, HexError> parse_hex_u64_lenient(std::string_view digits) {
  if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
  }
  return parse_hex_u64(digits);
}

void format_hex_append(std::string& out, std::uint64_t value) {
  char buf[16];
  std::size_t n = 0;
  do {
    buf[n++] = hex_digit(static_cast<unsigned>(value & 0xf));
    value >>= 4;
  } while (value != 0);
  while (n > 0) out.push_back(buf[--n]);
}

std::string format_hex(std::uint64_t value) {
  std::string out;
  format_hex_append(out, value);
  return out;
}

void format_hex_byte_append(std::string& out, std::uint8_t value) {
  out.push_back(hex_digit(value >> 4));
  out.push_back(hex_digit(value));
}

namespace {

template <typename Byte>
void escape_into(std::string& out, std::span<const Byte> bytes) {
  out.reserve(out.size() + bytes.size());
  for (Byte c : bytes) {
    const auto b = static_cast<std::uint8_t>(c);
    if (needs_escape(b)) {
      out.push_back(static_cast<char>(kEscapeByte));
      out.push_back(static_cast<char>(b ^ kEscapeXor));
    } else {
      out.push_back(static_cast<char>(b));
    }
  }
}

}  // namespace

void escape_binary_append(std::string& out, std::span<const std::uint8_t> bytes) {
  escape_into(out, bytes);
}

void escape_binary_append(std::string& out, std::string_view bytes) {
  escape_into(out, std::span<const char>(bytes.data(), bytes.size()));
}

std::string escape_binary(std::span<const std::uint8_t> bytes) {
  std::string out;
  escape_binary_append(out, bytes);
  return out;
}

std::string escape_binary(std::string_view bytes) {
  std::string out;
  escape_binary_append(out, bytes);
  return out;
}

tl::expected<std::size_t, HexError> unescaped_size(std::string_view wire) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < wire.size(); ++i, ++n) {
    if (static_cast<std::uint8_t>(wire[i]) == kEscapeByte) {
      if (i + 1 == wire.size()) return tl::unexpected(HexError::BadEscape);
      ++i;
    }
  }
  return n;
}

tl::expected<Bytes, HexError> unescape_binary(std::string_view wire) {
  auto size = unescaped_size(wire);
  if (!size) return tl::unexpected(size.error());
  Bytes out;
  out.reserve(*size);
  for (std::size_t i = 0; i < wire.size(); ++i) {
    auto b = static_cast<std::uint8_t>(wire[i]);
    if (b == kEscapeByte) b = static_cast<std::uint8_t>(wire[++i]) ^ kEscapeXor;
    out.push_back(b);
  }
  return out;
}

std::size_t escaped_prefix_fitting(std::span<const std::uint8_t> bytes, std::size_t budget) {
  std::size_t used = 0;
  std::size_t n = 0;
  for (; n < bytes.size(); ++n) {
    const std::size_t cost = needs_escape(bytes[n]) ? 2 : 1;
    if (used + cost > budget) break;
    used += cost;
  }
  return n;
}

}  // namespace s390b::rsp
