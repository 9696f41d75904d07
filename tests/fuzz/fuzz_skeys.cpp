// libFuzzer target for the storage-key file parser: parse_skeys (backends/dump/skeys.h), the
// text QEMU's `dump-skeys FILE` writes. The whole input is the file.
//
// Checked on every input, beyond "no crash/UB" (ASan, UBSan):
//  - determinism: a second parse gives the identical table, or the identical error;
//  - an error names a line of the input ("line N: ..." with 1 <= N <= the line count), and
//    the lines before it parse on their own (everything before the reported line was fine);
//  - on success, the table keeps skeys.h's promises: every run non-empty, every frame
//    below skey_frame_limit, runs strictly ascending and separated by a gap (consecutive
//    frames are one run), frame_count() the sum of the runs and one frame per non-blank
//    line, find() agreeing with the runs inside, at the edges and in the gaps;
//  - an independent oracle: each non-blank line's page=<hex> and key(<dec>) (read here
//    with a few lines of code of our own) are, in order, the table's frames and keys;
//  - QEMU's canonical rendering of the table parses back to the same table.
//
// Fuzz by hand:
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DS390B_FUZZ=ON -DS390B_BENCH=OFF
//   cmake --build build-fuzz --target fuzz_skeys
//   mkdir -p /tmp/skeys && build-fuzz/fuzz/fuzz_skeys -max_len=4096 /tmp/skeys tests/fuzz/corpus/fuzz_skeys
// (or scripts/fuzz fuzz_skeys, which merges what it finds into the committed seeds).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "backends/dump/skeys.h"

using s390b::StorageKey;
using s390b::dump::parse_skeys;
using s390b::dump::skey_frame_limit;
using s390b::dump::SkeysError;
using s390b::dump::StorageKeyTable;

namespace {

// Traps on a broken invariant, naming the line of the check (libFuzzer shows stderr).
void check(bool ok, unsigned line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_skeys.cpp:%u: invariant violated\n", line);
  __builtin_trap();
}

// The file's lines as the format defines them: split at "\n", one trailing "\r" dropped.
// A final "\n" does not start another line.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
  }
  return out;
}

bool same_table(const StorageKeyTable& a, const StorageKeyTable& b) {
  if (a.frame_count() != b.frame_count() || a.runs().size() != b.runs().size()) return false;
  for (std::size_t i = 0; i < a.runs().size(); ++i) {
    if (a.runs()[i].first_frame != b.runs()[i].first_frame || a.runs()[i].keys != b.runs()[i].keys) return false;
  }
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The oracle: frame and key of a line the parser accepted, read without the parser.
struct LineFacts {
  std::uint64_t frame = 0;
  unsigned key = 0;
};

LineFacts read_accepted_line(std::string_view line) {
  LineFacts f;
  check(line.starts_with("page="));
  std::size_t i = 5;
  check(i < line.size() && hex_digit(line[i]) >= 0);  // at least one digit
  for (; i < line.size() && hex_digit(line[i]) >= 0; ++i) {
    check(f.frame < (std::uint64_t{1} << 60));  // accepted frames are below 2^52
    f.frame = f.frame << 4 | static_cast<unsigned>(hex_digit(line[i]));
  }
  check(line.substr(i).starts_with(": key("));
  i += 6;
  check(i < line.size() && line[i] >= '0' && line[i] <= '9');
  for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    check(f.key <= 0xff);  // accepted keys are bytes (leading zeros keep it small)
    f.key = f.key * 10 + static_cast<unsigned>(line[i] - '0');
  }
  check(line.substr(i).starts_with(") => ACC="));
  return f;
}

// QEMU's write_keys(): "page=%03" PRIx64 ": key(%d) => ACC=%X, FP=%d, REF=%d, ch=%d, reserved=%d\n".
std::string qemu_rendering(const StorageKeyTable& table) {
  std::string out;
  for (const auto& run : table.runs()) {
    for (std::size_t i = 0; i < run.keys.size(); ++i) {
      const unsigned k = run.keys[i].raw;
      out += fmt::format("page={:03x}: key({}) => ACC={:X}, FP={}, REF={}, ch={}, reserved={}\n",
                         run.first_frame + i, k, k >> 4, k & 0x08, k & 0x04, k & 0x02, k & 0x01);
    }
  }
  return out;
}

void check_table(const StorageKeyTable& table, const std::vector<std::string_view>& lines) {
  const auto& runs = table.runs();
  check(table.empty() == runs.empty());
  std::uint64_t frames = 0;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& run = runs[r];
    check(!run.keys.empty());
    check(run.first_frame < skey_frame_limit);
    check(run.keys.size() <= skey_frame_limit - run.first_frame);  // end_frame() cannot wrap
    check(run.end_frame() <= skey_frame_limit);
    if (r > 0) check(runs[r - 1].end_frame() < run.first_frame);  // ascending, with a gap
    frames += run.keys.size();

    // find(): inside (all of a short run, the edges of a long one), just outside.
    check(table.find(run.first_frame) == run.keys.front());
    check(table.find(run.end_frame() - 1) == run.keys.back());
    for (std::size_t i = 0; i < run.keys.size() && i < 64; ++i) check(table.find(run.first_frame + i) == run.keys[i]);
    check(!table.find(run.end_frame()).has_value());
    if (run.first_frame > 0) check(!table.find(run.first_frame - 1).has_value());
  }
  check(frames == table.frame_count());
  check(!table.find(skey_frame_limit).has_value());
  check(!table.find(~std::uint64_t{0}).has_value());

  // One frame per non-blank line, in order, with the frame and key that line names.
  std::size_t r = 0;
  std::size_t i = 0;
  std::uint64_t nonblank = 0;
  for (std::string_view line : lines) {
    if (line.empty()) continue;
    ++nonblank;
    check(r < runs.size());
    const LineFacts facts = read_accepted_line(line);
    check(facts.frame == runs[r].first_frame + i);
    check(facts.key == runs[r].keys[i].raw);
    if (++i == runs[r].keys.size()) {
      ++r;
      i = 0;
    }
  }
  check(r == runs.size() && i == 0);
  check(nonblank == table.frame_count());

  // What QEMU would write for this table reads back as the same table.
  auto again = parse_skeys(qemu_rendering(table));
  check(again.has_value() && same_table(*again, table));
}

void check_error(const SkeysError& error, std::string_view text, const std::vector<std::string_view>& lines) {
  check(error.line >= 1 && error.line <= lines.size());
  check(error.message.starts_with(fmt::format("line {}: ", error.line)));
  check(error.message.size() > fmt::format("line {}: ", error.line).size());
  check(!lines[error.line - 1].empty());  // blank lines are never wrong

  // Every line before the reported one is fine: that prefix parses on its own.
  std::size_t start = 0;
  for (std::size_t n = 1; n < error.line; ++n) start = text.find('\n', start) + 1;
  auto before = parse_skeys(text.substr(0, start));
  check(before.has_value());
  // ... and the bad line still fails, at the same line, with the same message.
  const std::size_t nl = text.find('\n', start);
  const std::string_view through = nl == std::string_view::npos ? text : text.substr(0, nl + 1);
  auto bad = parse_skeys(through);
  check(!bad.has_value() && bad.error().line == error.line && bad.error().message == error.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto lines = lines_of(text);

  const auto first = parse_skeys(text);
  const auto second = parse_skeys(text);
  check(first.has_value() == second.has_value());
  if (!first) {
    check(first.error().line == second.error().line && first.error().message == second.error().message);
    check_error(first.error(), text, lines);
    return 0;
  }
  check(same_table(*first, *second));
  check_table(*first, lines);
  return 0;
}
