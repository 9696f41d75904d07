// Scripted packet conversations with a Session, in process (the level between pure-code
// unit tests and real clients end to end; LLDB's packet-level tests as the model). The
// client side here is written independently of the code under test -- its own framing,
// checksum, hex and binary unescaping -- so a codec bug cannot hide behind itself.
//
//   auto guest = demo::make_guest();
//   Conversation c(*guest);
//   c.negotiate();                              // qSupported (GDB 13's list) + QStartNoAckMode
//   CHECK(c.request("m600000,4") == "6b65726e");
//
// Every request checks, in both modes, that the session answered with exactly one
// well-formed packet (valid lowercase checksum, `$ # *` escaped, no stray bytes), acked
// it first in ack mode and sent no `-`. Requests with console output (qRcmd) and resumes
// (no reply until the target stops) have their own entry points.
//
// Also here: a tiny XML well-formedness check for target.xml / qXfer:threads, and
// RunnableGuest, a backend wrapper adding a fake RunControl to the demo guest.
#pragma once

#include <doctest/doctest.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "backends/emulated/demo_guest.h"
#include "gdbstub/session.h"

namespace s390b::rsp::test {

// --- client-side wire helpers (independent of gdbstub/codec and gdbstub/hex) ---------

// GDB 13.1's qSupported features, byte for byte as it sends them (captured with
// `set remotelogfile` against `s390bridge serve --demo`).
inline constexpr std::string_view kGdb13Features =
    "multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;"
    "vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;xmlRegisters=i386";

inline std::uint8_t sum8(std::string_view s) {
  std::uint8_t sum = 0;
  for (char c : s) sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(c));
  return sum;
}

inline constexpr char kLowerHex[] = "0123456789abcdef";

inline int lower_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

inline std::string hex_byte(std::uint8_t b) { return {kLowerHex[b >> 4], kLowerHex[b & 0xf]}; }

// `$` wire_payload `#` cc. The payload is sent as given: escape binary data first.
inline std::string frame(std::string_view wire_payload) {
  std::string out = "$";
  out += wire_payload;
  out += '#';
  out += hex_byte(sum8(wire_payload));
  return out;
}

// Binary escaping as GDB's remote_escape_output does it: `$ # } *` -> `}` (byte ^ 0x20).
inline std::string escape(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (c == '$' || c == '#' || c == '}' || c == '*') {
      out += '}';
      out += static_cast<char>(c ^ 0x20);
    } else {
      out += c;
    }
  }
  return out;
}

inline std::string hex(std::string_view bytes) {
  std::string out;
  for (char c : bytes) out += hex_byte(static_cast<std::uint8_t>(c));
  return out;
}

inline std::string hex_number(std::uint64_t v) {
  std::string out;
  do {
    out.insert(out.begin(), kLowerHex[v & 0xf]);
    v >>= 4;
  } while (v != 0);
  return out;
}

// Lowercase hex -> bytes; fails the test on anything else (uppercase hex in a reply can
// be misread as an error: gdb/remote.c, packet_check_result).
inline std::string unhex(std::string_view text) {
  INFO("hex: ", std::string(text.substr(0, 80)));
  REQUIRE(text.size() % 2 == 0);
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = lower_hex_value(text[i]);
    const int lo = lower_hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) FAIL("not lowercase hex at ", i);
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// Big-endian bytes of an unsigned value, as a register of `size` bytes.
inline std::string be_bytes(std::uint64_t v, std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size && i < 8; ++i) out[size - 1 - i] = static_cast<char>(v >> (8 * i));
  return out;
}

// `E` + exactly two lowercase hex digits (GDB's packet_check_result), or `E.text`.
inline bool is_error(std::string_view p) {
  if (p.starts_with("E.")) return true;
  return p.size() == 3 && p[0] == 'E' && lower_hex_value(p[1]) >= 0 && lower_hex_value(p[2]) >= 0;
}
inline bool is_errno_reply(std::string_view p) { return is_error(p) && !p.starts_with("E."); }

struct WireItem {
  enum class Kind : std::uint8_t { ack, nak, packet };
  Kind kind = Kind::packet;
  std::string payload;  // packets: unescaped payload
};

// Splits what the session sent into `+`, `-` and packets, requiring each packet to be
// well formed: `$`, a body without raw `$ # *` (an unescaped `*` would start a run-length
// sequence for GDB) and no lone trailing `}`, `#`, two LOWERCASE hex digits matching the
// sum of the body as sent. Anything else between packets fails the test.
inline std::vector<WireItem> split_wire(std::string_view out) {
  std::vector<WireItem> items;
  std::size_t i = 0;
  while (i < out.size()) {
    const char c = out[i];
    if (c == '+' || c == '-') {
      items.push_back({c == '+' ? WireItem::Kind::ack : WireItem::Kind::nak, {}});
      ++i;
      continue;
    }
    INFO("session output at ", i, ": ", std::string(out.substr(i, 80)));
    REQUIRE(c == '$');
    const std::size_t hash = out.find('#', i + 1);
    REQUIRE(hash != std::string_view::npos);
    REQUIRE(hash + 2 < out.size());
    const std::string_view body = out.substr(i + 1, hash - i - 1);
    const int hi = lower_hex_value(out[hash + 1]);
    const int lo = lower_hex_value(out[hash + 2]);
    REQUIRE(hi >= 0);
    REQUIRE(lo >= 0);
    CHECK(static_cast<std::uint8_t>(hi << 4 | lo) == sum8(body));
    REQUIRE(body.find_first_of("$*") == std::string_view::npos);
    WireItem item;
    item.payload.reserve(body.size());
    for (std::size_t k = 0; k < body.size(); ++k) {
      if (body[k] != '}') {
        item.payload += body[k];
        continue;
      }
      if (k + 1 == body.size()) FAIL("packet body ends with a lone }");
      item.payload += static_cast<char>(body[++k] ^ 0x20);
    }
    items.push_back(std::move(item));
    i = hash + 3;
  }
  return items;
}

inline std::vector<std::string> packets_of(const std::vector<WireItem>& items) {
  std::vector<std::string> out;
  for (const auto& it : items)
    if (it.kind == WireItem::Kind::packet) out.push_back(it.payload);
  return out;
}

inline std::size_t count_kind(const std::vector<WireItem>& items, WireItem::Kind kind) {
  std::size_t n = 0;
  for (const auto& it : items) n += it.kind == kind;
  return n;
}

// A stop reply `T AA n:r;...;` split into its signal and its `key:value` pairs (register
// numbers stay hex text, e.g. "11" for r15). Fails the test if it is not a T packet.
struct StopInfo {
  int signal = -1;
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string get(std::string_view key) const {
    for (const auto& [k, v] : pairs)
      if (k == key) return v;
    return {};
  }
  bool has(std::string_view key) const {
    for (const auto& kv : pairs)
      if (kv.first == key) return true;
    return false;
  }
};
inline StopInfo parse_stop(std::string_view p) {
  INFO("stop reply: ", std::string(p));
  REQUIRE(p.size() >= 3);
  REQUIRE(p[0] == 'T');
  StopInfo s;
  s.signal = lower_hex_value(p[1]) * 16 + lower_hex_value(p[2]);
  REQUIRE(s.signal >= 0);
  std::string_view rest = p.substr(3);
  while (!rest.empty()) {
    const std::size_t semi = rest.find(';');
    REQUIRE(semi != std::string_view::npos);  // every pair ends with `;`
    const std::string_view pair = rest.substr(0, semi);
    const std::size_t colon = pair.find(':');
    REQUIRE(colon != std::string_view::npos);
    s.pairs.emplace_back(std::string(pair.substr(0, colon)), std::string(pair.substr(colon + 1)));
    rest.remove_prefix(semi + 1);
  }
  return s;
}

// --- the client -----------------------------------------------------------------------

class Conversation {
 public:
  explicit Conversation(Backend& backend, SessionOptions options = {}) : session_(backend, std::move(options)) {}

  Session& session() { return session_; }
  bool ack_mode() const { return ack_mode_; }

  // Raw bytes in; what came back, split and checked.
  std::vector<WireItem> send_raw(std::string_view bytes) {
    last_output_ = session_.on_bytes(bytes);
    return split_wire(last_output_);
  }
  const std::string& last_output() const { return last_output_; }

  // One request, exactly one reply: returns the reply payload. `wire_payload` is sent as
  // given (escape binary data first). In ack mode the client first acks the previous
  // reply, as GDB does ("+$packet#cc").
  std::string request(std::string_view wire_payload) {
    const auto packets = exchange(wire_payload);
    INFO("request: ", std::string(wire_payload.substr(0, 120)));
    REQUIRE(packets.size() == 1);
    after_reply(wire_payload, packets[0]);
    return packets[0];
  }

  // A request answered by console output (`O` packets) and then one final reply (qRcmd).
  struct Answer {
    std::string console;  // the decoded text of every `O` packet, in order
    std::string reply;    // the final packet
  };
  Answer request_with_output(std::string_view wire_payload) {
    const auto packets = exchange(wire_payload);
    INFO("request: ", std::string(wire_payload.substr(0, 120)));
    REQUIRE_FALSE(packets.empty());
    Answer a;
    for (std::size_t i = 0; i + 1 < packets.size(); ++i) {
      REQUIRE(packets[i].starts_with("O"));
      REQUIRE(packets[i].size() > 1);  // `O` alone would be no output
      a.console += unhex(std::string_view(packets[i]).substr(1));
    }
    a.reply = packets.back();
    // The final reply must not itself look like console output.
    CHECK_FALSE((a.reply.size() > 1 && a.reply[0] == 'O' && a.reply != "OK"));
    after_reply(wire_payload, a.reply);
    return a;
  }

  // A request the session must not answer yet (a resume): only its ack in ack mode.
  void request_no_reply(std::string_view wire_payload) {
    const auto packets = exchange(wire_payload);
    INFO("request: ", std::string(wire_payload.substr(0, 120)));
    CHECK(packets.empty());
    owe_ack_ = false;
  }

  // The stop reply for a running target (Session::on_stop), checked like a reply.
  std::string stop(const StopEvent& event) {
    const auto items = split_wire(session_.on_stop(event));
    REQUIRE(items.size() == 1);
    REQUIRE(items[0].kind == WireItem::Kind::packet);
    owe_ack_ = ack_mode_;
    return items[0].payload;
  }

  // GDB 13's opening: qSupported with its feature list (plus `extra`, e.g.
  // ";error-message+"), then QStartNoAckMode unless `no_ack` is false. Returns the
  // qSupported reply.
  std::string negotiate(std::string_view extra = "", bool no_ack = true) {
    std::string q = "qSupported:";
    q += kGdb13Features;
    q += extra;
    const std::string supported = request(q);
    if (no_ack) REQUIRE(request("QStartNoAckMode") == "OK");
    return supported;
  }

 private:
  std::vector<std::string> exchange(std::string_view wire_payload) {
    std::string bytes;
    if (owe_ack_) bytes += '+';
    bytes += frame(wire_payload);
    const auto items = send_raw(bytes);
    INFO("request: ", std::string(wire_payload.substr(0, 120)), "  output: ", last_output_.substr(0, 200));
    CHECK(count_kind(items, WireItem::Kind::nak) == 0);
    if (ack_mode_) {
      // The ack comes first, before any reply (GDB manual, Remote Protocol appendix: `+`
      // before processing).
      REQUIRE_FALSE(items.empty());
      CHECK(items[0].kind == WireItem::Kind::ack);
      CHECK(count_kind(items, WireItem::Kind::ack) == 1);
    } else {
      CHECK(count_kind(items, WireItem::Kind::ack) == 0);
    }
    return packets_of(items);
  }

  void after_reply(std::string_view request, const std::string& reply) {
    owe_ack_ = ack_mode_;
    if (request == "QStartNoAckMode" && reply == "OK") {
      // GDB 13 sends no trailing `+` after this OK (older GDBs do; robustness tests send it).
      ack_mode_ = false;
      owe_ack_ = false;
    }
  }

  Session session_;
  bool ack_mode_ = true;
  bool owe_ack_ = false;
  std::string last_output_;
};

// --- XML --------------------------------------------------------------------------------

// Well-formedness of the XML subset target descriptions use: a declaration, a DOCTYPE,
// comments, elements with quoted attributes (no duplicates), text without `<`/`&` other
// than entities, one root element, balanced tags. Returns an empty string or what is wrong.
inline std::string xml_problem(std::string_view doc) {
  std::vector<std::string> open;
  bool root_seen = false;
  std::size_t i = 0;
  auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':';
  };
  while (i < doc.size()) {
    if (doc[i] != '<') {
      if (doc[i] == '&') {
        const std::size_t semi = doc.find(';', i);
        if (semi == std::string_view::npos) return "unterminated entity";
        const std::string_view ent = doc.substr(i, semi - i + 1);
        if (ent != "&lt;" && ent != "&gt;" && ent != "&amp;" && ent != "&quot;" && ent != "&apos;")
          return "unknown entity " + std::string(ent);
      } else if (open.empty() && doc[i] != ' ' && doc[i] != '\n' && doc[i] != '\t' && doc[i] != '\r') {
        return "text outside the root element at " + std::to_string(i);
      }
      ++i;
      continue;
    }
    if (doc.substr(i).starts_with("<?")) {
      const std::size_t end = doc.find("?>", i);
      if (end == std::string_view::npos) return "unterminated declaration";
      if (i != 0) return "declaration not at the start";
      i = end + 2;
      continue;
    }
    if (doc.substr(i).starts_with("<!--")) {
      const std::size_t end = doc.find("-->", i);
      if (end == std::string_view::npos) return "unterminated comment";
      i = end + 3;
      continue;
    }
    if (doc.substr(i).starts_with("<!DOCTYPE")) {
      if (root_seen) return "DOCTYPE after the root";
      const std::size_t end = doc.find('>', i);
      if (end == std::string_view::npos) return "unterminated DOCTYPE";
      i = end + 1;
      continue;
    }
    const bool closing = i + 1 < doc.size() && doc[i + 1] == '/';
    std::size_t p = i + (closing ? 2 : 1);
    const std::size_t name_start = p;
    while (p < doc.size() && is_name_char(doc[p])) ++p;
    const std::string name(doc.substr(name_start, p - name_start));
    if (name.empty()) return "empty tag name at " + std::to_string(i);
    if (closing) {
      while (p < doc.size() && doc[p] == ' ') ++p;
      if (p >= doc.size() || doc[p] != '>') return "bad end tag " + name;
      if (open.empty() || open.back() != name) return "mismatched end tag " + name;
      open.pop_back();
      i = p + 1;
      continue;
    }
    if (open.empty() && root_seen) return "second root element " + name;
    std::vector<std::string> attrs;
    for (;;) {
      while (p < doc.size() && (doc[p] == ' ' || doc[p] == '\n' || doc[p] == '\t')) ++p;
      if (p >= doc.size()) return "unterminated tag " + name;
      if (doc[p] == '>' || doc.substr(p).starts_with("/>")) break;
      const std::size_t an = p;
      while (p < doc.size() && is_name_char(doc[p])) ++p;
      const std::string attr(doc.substr(an, p - an));
      if (attr.empty() || p >= doc.size() || doc[p] != '=') return "bad attribute in " + name;
      for (const auto& a : attrs)
        if (a == attr) return "duplicate attribute " + attr + " in " + name;
      attrs.push_back(attr);
      ++p;
      if (p >= doc.size() || (doc[p] != '"' && doc[p] != '\'')) return "unquoted attribute " + attr;
      const char q = doc[p];
      const std::size_t close = doc.find(q, p + 1);
      if (close == std::string_view::npos) return "unterminated attribute " + attr;
      if (doc.substr(p + 1, close - p - 1).find('<') != std::string_view::npos) return "`<` in attribute " + attr;
      p = close + 1;
    }
    root_seen = true;
    if (doc[p] == '>') {
      open.push_back(name);
      i = p + 1;
    } else {
      i = p + 2;
    }
  }
  if (!open.empty()) return "unclosed element " + open.back();
  if (!root_seen) return "no root element";
  return {};
}

// The value of attribute `name` in the tag text `tag` (`<reg name="r0" .../>`), or "".
inline std::string xml_attribute(std::string_view tag, std::string_view name) {
  const std::string key = " " + std::string(name) + "=\"";
  const std::size_t at = tag.find(key);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + key.size();
  return std::string(tag.substr(start, tag.find('"', start) - start));
}

// Every `<element ...>` tag of the document, as text.
inline std::vector<std::string> xml_tags(std::string_view doc, std::string_view element) {
  std::vector<std::string> tags;
  const std::string open = "<" + std::string(element) + " ";
  for (std::size_t at = doc.find(open); at != std::string_view::npos; at = doc.find(open, at + 1))
    tags.emplace_back(doc.substr(at, doc.find('>', at) - at + 1));
  return tags;
}

struct XmlRegister {
  std::string name;
  unsigned bits = 0;
  unsigned regnum = 0;
};
inline std::vector<XmlRegister> xml_registers(std::string_view doc) {
  std::vector<XmlRegister> regs;
  for (const auto& tag : xml_tags(doc, "reg"))
    regs.push_back({xml_attribute(tag, "name"), static_cast<unsigned>(std::stoul(xml_attribute(tag, "bitsize"))),
                    static_cast<unsigned>(std::stoul(xml_attribute(tag, "regnum")))});
  return regs;
}

// Reads a qXfer object window by window, as GDB does; requires m...m...l. Returns the
// whole document.
inline std::string read_xfer(Conversation& c, std::string_view prefix, std::uint64_t window) {
  std::string doc;
  for (int guard = 0; guard < 10000; ++guard) {
    const std::string reply = c.request(std::string(prefix) + hex_number(doc.size()) + "," + hex_number(window));
    INFO("qXfer reply: ", reply.substr(0, 60));
    REQUIRE_FALSE(reply.empty());
    REQUIRE((reply[0] == 'm' || reply[0] == 'l'));
    CHECK(reply.size() - 1 <= window);
    if (reply[0] == 'm') CHECK(reply.size() > 1);  // `m` with no data would loop forever
    doc += reply.substr(1);
    if (reply[0] == 'l') return doc;
  }
  FAIL("qXfer never ended");
  return doc;
}

// --- a demo guest that can run --------------------------------------------------------

// Forwards the Backend interface to `inner` (the demo guest) and adds a RunControl whose
// vCPUs "run" until the test calls stop() or the session interrupts. A step stops at once
// (the step completes immediately). Thread-safe: the transport waits on another thread.
class RunnableGuest final : public Backend, public RunControl {
 public:
  explicit RunnableGuest(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

  std::string_view name() const override { return "runnable-demo"; }
  unsigned cpu_count() const override { return inner_->cpu_count(); }
  std::uint32_t op_limit() const override { return inner_->op_limit(); }
  Facilities facilities() const override { return inner_->facilities(); }
  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override { return inner_->vcpu_memop(cpu, op); }
  MemopResult vm_memop(const Memop& op) override { return inner_->vm_memop(op); }
  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override { return inner_->cpu_state(cpu); }
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& state) override {
    return inner_->set_cpu_state(cpu, state);
  }
  IpteGuard ipte_lock() override { return inner_->ipte_lock(); }
  RunControl* run_control() override { return this; }
  Breakpoints* breakpoints() override { return inner_->breakpoints(); }
  StorageKeys* storage_keys() override { return inner_->storage_keys(); }
  const MemoryMap* memory_map() const override { return inner_->memory_map(); }

  // RunControl
  tl::expected<void, HostError> resume(const std::vector<unsigned>& cpus) override {
    std::lock_guard lock(mutex_);
    ++resumes_;
    resumed_cpus_ = cpus;
    running_ = true;
    return {};
  }
  tl::expected<void, HostError> step(unsigned cpu) override {
    std::lock_guard lock(mutex_);
    ++steps_;
    stepped_cpu_ = cpu;
    running_ = true;
    pending_ = StopEvent{cpu, StopEvent::Reason::step, 0};
    cv_.notify_all();
    return {};
  }
  tl::expected<void, HostError> interrupt() override {
    std::lock_guard lock(mutex_);
    ++interrupts_;
    if (running_ && !pending_) pending_ = StopEvent{0, StopEvent::Reason::interrupted, 0};
    cv_.notify_all();
    return {};
  }
  tl::expected<StopEvent, HostError> wait_for_stop() override {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return pending_.has_value(); });
    const StopEvent e = *pending_;
    pending_.reset();
    running_ = false;
    return e;
  }

  // Test side: make the running guest stop with `event`.
  void stop(const StopEvent& event) {
    std::lock_guard lock(mutex_);
    pending_ = event;
    cv_.notify_all();
  }
  int resumes() const { std::lock_guard lock(mutex_); return resumes_; }
  int steps() const { std::lock_guard lock(mutex_); return steps_; }
  int interrupts() const { std::lock_guard lock(mutex_); return interrupts_; }
  std::vector<unsigned> resumed_cpus() const { std::lock_guard lock(mutex_); return resumed_cpus_; }
  std::optional<unsigned> stepped_cpu() const { std::lock_guard lock(mutex_); return stepped_cpu_; }

 private:
  std::unique_ptr<Backend> inner_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool running_ = false;
  std::optional<StopEvent> pending_;
  int resumes_ = 0;
  int steps_ = 0;
  int interrupts_ = 0;
  std::vector<unsigned> resumed_cpus_;
  std::optional<unsigned> stepped_cpu_;
};

// The most common start of a conversation: the demo guest, negotiated the way GDB 13 does
// (qSupported, QStartNoAckMode). Members by the names the cases use.
struct NegotiatedDemo {
  std::unique_ptr<EmulatedBackend> guest = demo::make_guest();
  Conversation c{*guest};
  NegotiatedDemo() { c.negotiate(); }
};

}  // namespace s390b::rsp::test
