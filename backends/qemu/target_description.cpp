#include "backends/qemu/target_description.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

namespace s390b::qemu {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
         c == '-' || c == '.';
}

std::string decode_entities(std::string_view s) {
  static constexpr std::pair<std::string_view, char> entities[] = {
      {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool done = false;
    if (s[i] == '&') {
      for (auto [text, c] : entities) {
        if (s.substr(i).starts_with(text)) {
          out.push_back(c);
          i += text.size();
          done = true;
          break;
        }
      }
    }
    if (!done) out.push_back(s[i++]);
  }
  return out;
}

std::optional<unsigned> parse_unsigned(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// One start or empty-element tag: its name and the text between `<` and `>`.
struct Tag {
  std::string_view name;
  std::string_view text;
};

// The next start tag at or after `pos` (comments, declarations and end tags skipped).
std::optional<Tag> next_tag(std::string_view doc, std::size_t& pos) {
  while ((pos = doc.find('<', pos)) != std::string_view::npos) {
    if (doc.substr(pos).starts_with("<!--")) {
      const auto end = doc.find("-->", pos + 4);
      if (end == std::string_view::npos) return std::nullopt;
      pos = end + 3;
      continue;
    }
    const auto end = doc.find('>', pos);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view text = doc.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (text.empty() || text.front() == '/' || text.front() == '?' || text.front() == '!') continue;
    std::size_t n = 0;
    while (n < text.size() && is_name_char(text[n])) ++n;
    return Tag{text.substr(0, n), text};
  }
  return std::nullopt;
}

struct Parser {
  const TargetDescription::Fetch& fetch;
  std::vector<RemoteRegister>& registers;
  std::vector<std::string>& features;
  std::string& architecture;
  std::set<std::string> seen;
  unsigned next_number = 0;

  tl::expected<void, std::string> document(std::string_view name, std::string_view doc, std::string feature) {
    std::size_t pos = 0;
    while (auto tag = next_tag(doc, pos)) {
      if (tag->name == "architecture") {
        const auto end = doc.find('<', pos);
        architecture = std::string(doc.substr(pos, end == std::string_view::npos ? 0 : end - pos));
      } else if (tag->name == "feature") {
        feature = xml_attribute(tag->text, "name").value_or("");
        features.push_back(feature);
      } else if (tag->name == "xi:include") {
        auto href = xml_attribute(tag->text, "href");
        if (!href) return tl::unexpected(fmt::format("{}: an xi:include without href", name));
        if (!seen.insert(*href).second) return tl::unexpected(fmt::format("{}: '{}' is included twice", name, *href));
        if (seen.size() > TargetDescription::max_documents)
          return tl::unexpected(fmt::format("more than {} documents in the target description", TargetDescription::max_documents));
        auto sub = fetch(*href);
        if (!sub) return tl::unexpected(fmt::format("{}: {}", *href, sub.error()));
        if (auto r = document(*href, *sub, feature); !r) return r;
      } else if (tag->name == "reg") {
        RemoteRegister r;
        r.name = xml_attribute(tag->text, "name").value_or("");
        auto bits = parse_unsigned(xml_attribute(tag->text, "bitsize").value_or(""));
        if (r.name.empty() || !bits || *bits == 0 || *bits > 4096 || *bits % 8 != 0)
          return tl::unexpected(fmt::format("{}: a <reg> without a valid name and bitsize", name));
        if (auto num = xml_attribute(tag->text, "regnum")) {
          auto v = parse_unsigned(*num);
          if (!v || *v >= TargetDescription::max_registers)
            return tl::unexpected(fmt::format("{}: register {} has regnum '{}'", name, r.name, *num));
          next_number = *v;
        }
        r.bits = *bits;
        r.number = next_number++;
        r.feature = feature;
        if (registers.size() >= TargetDescription::max_registers)
          return tl::unexpected(fmt::format("more than {} registers", TargetDescription::max_registers));
        registers.push_back(std::move(r));
      }
    }
    return {};
  }
};

}  // namespace

std::optional<std::string> xml_attribute(std::string_view tag, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = tag.find(name, pos)) != std::string_view::npos) {
    const bool starts = pos > 0 && (tag[pos - 1] == ' ' || tag[pos - 1] == '\t' || tag[pos - 1] == '\n' || tag[pos - 1] == '\r');
    std::size_t i = pos + name.size();
    pos = i;
    if (!starts) continue;
    while (i < tag.size() && tag[i] == ' ') ++i;
    if (i >= tag.size() || tag[i] != '=') continue;
    ++i;
    while (i < tag.size() && tag[i] == ' ') ++i;
    if (i >= tag.size() || (tag[i] != '"' && tag[i] != '\'')) continue;
    const char quote = tag[i];
    const auto end = tag.find(quote, i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return decode_entities(tag.substr(i + 1, end - i - 1));
  }
  return std::nullopt;
}

tl::expected<TargetDescription, std::string> TargetDescription::parse(std::string_view root, const Fetch& fetch) {
  TargetDescription d;
  Parser p{fetch, d.registers_, d.features_, d.architecture_, {}, 0};
  if (auto r = p.document("target.xml", root, ""); !r) return tl::unexpected(r.error());
  if (d.registers_.empty()) return tl::unexpected(std::string("the target description names no registers"));
  return d;
}

tl::expected<TargetDescription, std::string> TargetDescription::load(const Fetch& fetch) {
  auto root = fetch("target.xml");
  if (!root) return tl::unexpected(fmt::format("target.xml: {}", root.error()));
  return parse(*root, fetch);
}

const RemoteRegister* TargetDescription::find(std::string_view name) const {
  auto it = std::find_if(registers_.begin(), registers_.end(), [&](const RemoteRegister& r) { return r.name == name; });
  return it == registers_.end() ? nullptr : &*it;
}

bool TargetDescription::has_feature(std::string_view feature) const {
  return std::find(features_.begin(), features_.end(), feature) != features_.end();
}

}  // namespace s390b::qemu
