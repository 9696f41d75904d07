// Hex and binary-escape helpers of the remote protocol. Pure functions, no allocation
// beyond the returned value, which is bounded by the input size.
//
// * Hex: two lowercase digits per byte on output (an uppercase "E5" in hex output could
//   be read as an error reply: gdb/remote.c, packet_check_result); either case on input.
// * Binary escape: `}` (0x7d) followed by byte ^ 0x20. On output we escape `#`, `$`, `}`
//   and `*` (the last so the client never sees a run-length marker: GDB expands runs
//   before unescaping, gdb/remote.c read_frame); on input any
//   `}x` pair is unescaped, as GDB's own decoder is permissive.
// * Hex numbers: at most 64 bits of value. Overflow is an error, never a wrap; leading
//   zeros are accepted because they do not change the value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace s390b::rsp {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint8_t kEscapeByte = 0x7d;  // '}'
inline constexpr std::uint8_t kEscapeXor = 0x20;

enum class HexError : std::uint8_t {
  Empty,       // a number was required but no digit was present
  BadDigit,    // a character that is not a hex digit
  OddLength,   // hex data must have two digits per byte
  Overflow,    // the number does not fit in 64 bits
  BadEscape,   // binary data ends with a lone '}'
};

const char* to_string(HexError e);

// Value of one hex digit of either case, or -1.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Lowercase digit for a nibble 0-15.
constexpr char hex_digit(unsigned nibble) { return "0123456789abcdef"[nibble & 0xfu]; }

// --- hex data -----------------------------------------------------------------------

void hex_append(std::string& out, std::span<const std::uint8_t> bytes);
std::string hex_encode(std::span<const std::uint8_t> bytes);
std::string hex_encode(std::string_view text);  // each char as one byte
tl::expected<Bytes, HexError> hex_decode(std::string_view hex);
tl::expected<std::string, HexError> hex_decode_text(std::string_view hex);

// --- hex numbers --------------------------------------------------------------------

// Parses one or more hex digits (either case) into a value of at most 64 bits.
tl::expected<std::uint64_t, HexError> parse_hex_u64(std::string_view digits);
// The same, also accepting an optional "0x"/"0X" prefix (LLDB sends it:
// lldb/docs/resources/lldbgdbremote.md).
tl::expected<std::uint64_t, HexError> parse_hex_u64_lenient(std::string_view digits);
// Lowercase, no padding, "0" for zero.
std::string format_hex(std::uint64_t value);
void format_hex_append(std::string& out, std::uint64_t value);
// Exactly two lowercase digits.
void format_hex_byte_append(std::string& out, std::uint8_t value);

// --- binary escaping ----------------------------------------------------------------

constexpr bool needs_escape(std::uint8_t b) {
  return b == '#' || b == '$' || b == kEscapeByte || b == '*';
}

void escape_binary_append(std::string& out, std::span<const std::uint8_t> bytes);
void escape_binary_append(std::string& out, std::string_view bytes);
std::string escape_binary(std::span<const std::uint8_t> bytes);
std::string escape_binary(std::string_view bytes);
// How many leading bytes of `bytes` fit in `budget` bytes once escaped (an escaped byte
// takes two).
std::size_t escaped_prefix_fitting(std::span<const std::uint8_t> bytes, std::size_t budget);
// Undoes the escape of any `}x` pair. A trailing lone `}` is BadEscape.
tl::expected<Bytes, HexError> unescape_binary(std::string_view wire);
// Number of bytes unescape_binary would produce, or BadEscape; no allocation.
tl::expected<std::size_t, HexError> unescaped_size(std::string_view wire);

}  // namespace s390b::rsp
