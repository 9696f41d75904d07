#include "backends/qemu/qemu_backend.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <unordered_map>

#include <unistd.h>

#include <fmt/format.h>

#include "backends/dump/load_core.h"
#include "backends/dump/skeys.h"
#include "backends/emulated/file_mapping.h"
#include "rsp/hex.h"

namespace s390b::qemu {

namespace {

using namespace std::chrono_literals;

// A monitor command (dump-guest-memory above all) may take longer than a packet.
constexpr std::chrono::milliseconds monitor_timeout = 120s;
// How long a guest left running gets to report its stop after an interrupt.
constexpr std::chrono::milliseconds interrupt_timeout = 3s;

// Big-endian register bytes from a hex reply.
std::optional<std::uint64_t> be_value(std::span<const std::uint8_t> bytes) {
  if (bytes.empty() || bytes.size() > 8) return std::nullopt;
  std::uint64_t v = 0;
  for (std::uint8_t b : bytes) v = (v << 8) | b;
  return v;
}

std::string be_hex(std::uint64_t value, unsigned bytes) {
  std::string out;
  for (unsigned i = bytes; i-- > 0;) rsp::format_hex_byte_append(out, static_cast<std::uint8_t>(value >> (8 * i)));
  return out;
}

// Where a register of QEMU's description lives in CpuState. Registers the bridge does not
// model (pp, pfault_*) are left out: GDB gets them only from QEMU's own stub.
struct Slot {
  enum class Kind : std::uint8_t { none, pswm, pswa, gpr, acr, fpc, fpr, vrl, vrh, cr, gs, ckc, cputm, last_break, prefix };
  Kind kind = Kind::none;
  unsigned index = 0;
};

Slot slot_of(std::string_view name) {
  std::string_view numbered_name = name;
  // PREFIX followed by a decimal number below `limit`.
  auto numbered = [&](std::string_view prefix, unsigned limit) -> std::optional<unsigned> {
    if (!numbered_name.starts_with(prefix)) return std::nullopt;
    std::string_view rest = numbered_name.substr(prefix.size());
    if (rest.empty() || rest.size() > 2) return std::nullopt;
    unsigned v = 0;
    for (char c : rest) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v >= limit) return std::nullopt;
    return v;
  };
  using K = Slot::Kind;
  if (name == "pswm") return {K::pswm, 0};
  if (name == "pswa") return {K::pswa, 0};
  if (name == "fpc") return {K::fpc, 0};
  if (name == "ckc") return {K::ckc, 0};
  if (name == "cputm") return {K::cputm, 0};
  if (name == "last_break") return {K::last_break, 0};
  if (name == "prefix") return {K::prefix, 0};
  if (name == "gs_reserved") return {K::gs, 0};
  if (name == "gsd") return {K::gs, 1};
  if (name == "gssm") return {K::gs, 2};
  if (name == "gsepla") return {K::gs, 3};
  if (name.ends_with('l')) {  // v0l ... v15l: the right halves of VR0-15
    const std::string_view inner = name.substr(0, name.size() - 1);
    numbered_name = inner;
    if (auto n = numbered("v", 16)) return {K::vrl, *n};
    numbered_name = name;
  }
  if (auto n = numbered("r", 16)) return {K::gpr, *n};
  if (auto n = numbered("acr", 16)) return {K::acr, *n};
  if (auto n = numbered("f", 16)) return {K::fpr, *n};
  if (auto n = numbered("cr", 16)) return {K::cr, *n};
  if (auto n = numbered("v", 32); n && *n >= 16) return {K::vrh, *n};
  return {};
}

// Stores one register's big-endian bytes into the state.
void store_register(CpuState& s, const Slot& slot, std::span<const std::uint8_t> bytes) {
  using K = Slot::Kind;
  if (slot.kind == K::vrh) {
    if (bytes.size() != 16) return;
    s.vrs[slot.index][0] = *be_value(bytes.subspan(0, 8));
    s.vrs[slot.index][1] = *be_value(bytes.subspan(8, 8));
    s.present.vrs = true;
    return;
  }
  auto v = be_value(bytes);
  if (!v) return;
  switch (slot.kind) {
    case K::pswm: s.psw.mask = *v; s.present.psw = true; break;
    case K::pswa: s.psw.addr = *v; break;
    case K::gpr: s.gprs[slot.index] = *v; s.present.gprs = true; break;
    case K::acr: s.acrs[slot.index] = static_cast<std::uint32_t>(*v); s.present.acrs = true; break;
    case K::fpc: s.fpc = static_cast<std::uint32_t>(*v); s.present.fprs = true; break;
    case K::fpr: s.vrs[slot.index][0] = *v; s.present.fprs = true; break;
    case K::vrl: s.vrs[slot.index][1] = *v; s.present.vrs = true; break;
    case K::cr: s.crs[slot.index] = *v; s.present.crs = true; break;
    case K::gs: s.gs[slot.index] = *v; s.present.gs = true; break;
    case K::ckc: s.ckc = *v; s.present.ckc = true; break;
    case K::cputm: s.cputm = *v; s.present.cputm = true; break;
    case K::last_break: s.last_break = *v; s.present.last_break = true; break;
    case K::prefix: s.prefix = static_cast<std::uint32_t>(*v); s.present.prefix = true; break;
    case K::vrh:
    case K::none: break;
  }
}

// The register's value in `s` as QEMU's hex, or nullopt for registers not modelled.
std::optional<std::string> register_hex(const CpuState& s, const Slot& slot, unsigned bytes) {
  using K = Slot::Kind;
  switch (slot.kind) {
    case K::pswm: return be_hex(s.psw.mask, bytes);
    case K::pswa: return be_hex(s.psw.addr, bytes);
    case K::gpr: return be_hex(s.gprs[slot.index], bytes);
    case K::acr: return be_hex(s.acrs[slot.index], bytes);
    case K::fpc: return be_hex(s.fpc, bytes);
    case K::fpr: return be_hex(s.vrs[slot.index][0], bytes);
    case K::vrl: return be_hex(s.vrs[slot.index][1], bytes);
    case K::vrh:
      if (bytes != 16) return std::nullopt;
      return be_hex(s.vrs[slot.index][0], 8) + be_hex(s.vrs[slot.index][1], 8);
    case K::cr: return be_hex(s.crs[slot.index], bytes);
    case K::gs: return be_hex(s.gs[slot.index], bytes);
    case K::ckc: return be_hex(s.ckc, bytes);
    case K::cputm: return be_hex(s.cputm, bytes);
    case K::last_break: return be_hex(s.last_break, bytes);
    case K::prefix: return be_hex(s.prefix, bytes);
    case K::none: return std::nullopt;
  }
  return std::nullopt;
}

// QEMU's physical-memory mode as a page source: `m`/`M` on absolute addresses, in the
// largest pieces QEMU takes. Called only under the backend's mutex (from inside a MEMOP),
// which serialises the use of the connection.
//
// Sequential reads (GDB's `dump memory`, a large `read`) would cost a round trip per page:
// a fetch of the page after the last one fetched reads ahead, up to `read_ahead` pages in
// one pipelined batch, kept until they are asked for, written or dropped.
class GdbstubPages final : public PageSource {
 public:
  static constexpr std::size_t read_ahead = 16;  // 64 KiB: one GDB request of a 128 KiB PacketSize

  // `read_chunk`: bytes per `m` (QEMU takes up to half its PacketSize); `write_chunk`: per
  // `M` (its hex must fit the PacketSize). `end`: one past the last absolute byte.
  GdbstubPages(std::shared_ptr<RspClient> client, std::size_t read_chunk, std::size_t write_chunk, std::uint64_t end)
      : client_(std::move(client)), read_chunk_(read_chunk), write_chunk_(write_chunk), end_(end) {}

  bool fetch(std::uint64_t page, std::span<std::uint8_t> out) override {
    if (auto it = ahead_.find(page); it != ahead_.end()) {
      std::copy(it->second.begin(), it->second.end(), out.begin());
      ahead_.erase(it);
      last_ = page;
      return true;
    }
    const bool sequential = last_ != no_page && page == last_ + page_size;
    std::size_t pages = sequential ? read_ahead : 1;
    pages = std::min<std::uint64_t>(pages, (end_ - page) / page_size);
    if (pages == 0) pages = 1;
    std::vector<std::string> requests;
    for (std::uint64_t off = 0; off < pages * page_size; off += read_chunk_)
      requests.push_back(fmt::format("m{:x},{:x}", page + off, read_chunk_));
    auto replies = client_->request_batch(requests);
    if (!replies) return failed(replies.error());
    ahead_.clear();
    std::array<std::uint8_t, page_size> buffer{};
    std::uint64_t off = 0;
    for (const std::string& r : *replies) {
      auto bytes = rsp::hex_decode(r);
      if (!bytes || bytes->size() != read_chunk_)
        return failed(fmt::format("QEMU answered '{}' to a read of absolute 0x{:x}", r.substr(0, 16), page + off));
      std::copy(bytes->begin(), bytes->end(), buffer.begin() + static_cast<std::ptrdiff_t>(off % page_size));
      off += read_chunk_;
      if (off % page_size != 0) continue;
      const std::uint64_t done = page + off - page_size;
      if (done == page) {
        std::copy(buffer.begin(), buffer.end(), out.begin());
      } else {
        ahead_.emplace(done, buffer);
      }
    }
    last_ = page;
    return true;
  }

  bool store(std::uint64_t address, std::span<const std::uint8_t> data) override {
    ahead_.erase(address & ~std::uint64_t{page_size - 1});
    for (std::size_t off = 0; off < data.size(); off += write_chunk_) {
      const auto piece = data.subspan(off, std::min(write_chunk_, data.size() - off));
      auto r = client_->request(fmt::format("M{:x},{:x}:{}", address + off, piece.size(), rsp::hex_encode(piece)));
      if (!r) return failed(r.error());
      if (*r != "OK") return failed(fmt::format("QEMU answered '{}' to a write of absolute 0x{:x}", *r, address + off));
    }
    return true;
  }

  // The guest ran: what was read ahead is stale.
  void drop() {
    ahead_.clear();
    last_ = no_page;
  }

  // Set by a failed fetch or store since the last take(): the MEMOP must fail as a whole.
  std::optional<std::string> take_failure() { return std::exchange(failure_, std::nullopt); }

 private:
  static constexpr std::uint64_t no_page = ~std::uint64_t{0};

  bool failed(std::string why) {
    if (!failure_) failure_ = std::move(why);
    return false;
  }

  std::shared_ptr<RspClient> client_;
  std::size_t read_chunk_;
  std::size_t write_chunk_;
  std::uint64_t end_;
  std::uint64_t last_ = no_page;
  std::unordered_map<std::uint64_t, std::array<std::uint8_t, page_size>> ahead_;
  std::optional<std::string> failure_;
};

bool is_local(const Endpoint& e) {
  return !e.unix_path.empty() || e.host == "localhost" || e.host.starts_with("127.") || e.host == "::1";
}

}  // namespace

struct QemuBackend::Connection {
  std::shared_ptr<RspClient> client;
  TargetDescription tdesc;
  std::vector<Slot> slots;             // per remote register, by index in tdesc.registers()
  std::vector<std::string> threads;    // QEMU's thread id per vCPU
  std::size_t packet_size = 0x1000;
  bool vcont = false;
  std::string vcont_actions = ";c;C;s;S";
  std::unique_ptr<EmulatedBackend> engine;
  std::shared_ptr<GdbstubPages> pages;  // physical-memory mode only
  std::uint64_t ram_size = 0;
  bool prefix_register = false;
  bool kvm = false;
  // Per stop: each vCPU's registers once fetched, and the CPU notes of a one-page dump
  // (prefix, timers) when QEMU's stub lacks those registers.
  std::vector<std::optional<CpuState>> cpus;
  std::optional<std::vector<CpuState>> dump_cpus;
  std::optional<std::string> dump_failure;
  bool keys_loaded = false;  // the engine's storage keys are QEMU's of this stop
};

QemuBackend::QemuBackend(QemuOptions options) : options_(std::move(options)) {}

QemuBackend::~QemuBackend() {
  std::unique_lock lk(mutex_);
  // Only while stopped: QEMU takes any byte that arrives while the guest runs as a stop
  // request and drops the packet (and a detach already left the physical mode).
  if (!conn_ || lost_ || run_ != Run::stopped) return;
  if (options_.resume_on_close) {
    lk.unlock();
    (void)detach();
    return;
  }
  if (conn_->pages) (void)conn_->client->request("Qqemu.PhyMemMode:0");
}

tl::expected<std::unique_ptr<QemuBackend>, std::string> QemuBackend::attach(QemuOptions options) {
  std::unique_ptr<QemuBackend> b(new QemuBackend(std::move(options)));
  std::lock_guard lk(b->mutex_);
  if (auto r = b->connect_locked(); !r) return tl::unexpected(r.error());
  return b;
}

tl::expected<void, std::string> QemuBackend::connect_locked() {
  auto endpoint = Endpoint::parse(options_.gdbstub);
  if (!endpoint) return tl::unexpected(endpoint.error());
  auto client = RspClient::connect(*endpoint, options_.timeout);
  if (!client) return tl::unexpected(client.error());
  auto c = std::make_unique<Connection>();
  c->client = std::move(*client);
  auto r = attach_locked(*c, *endpoint);
  if (!r) {
    // QEMU stopped the guest when we connected: leave it running as we found it.
    (void)c->client->request("D", nullptr, options_.timeout);
    return r;
  }
  conn_ = std::move(c);
  lost_.reset();
  run_ = Run::stopped;
  inserted_.clear();
  if (options_.log)
    options_.log(fmt::format("attached to QEMU's gdbstub at {}: {} vCPUs, {} registers ({}), memory through {}",
                             endpoint->describe(), conn_->threads.size(), conn_->tdesc.registers().size(),
                             conn_->kvm ? "KVM" : "TCG", describe_locked().memory_path));
  return {};
}

// What QEMU offers: features, the register layout, the vCPUs; then storage.
tl::expected<void, std::string> QemuBackend::attach_locked(Connection& conn, const Endpoint& endpoint) {
  Connection* c = &conn;
  auto ask = [&](std::string_view p) -> tl::expected<std::string, std::string> {
    auto r = c->client->request(p, nullptr, options_.timeout);
    if (!r) return tl::unexpected(fmt::format("{}: {}", endpoint.describe(), r.error()));
    return r;
  };

  // QEMU's features: PacketSize bounds each m; vContSupported says vCont works.
  auto supported = ask("qSupported:xmlRegisters=s390;vContSupported+;swbreak+;hwbreak+");
  if (!supported) return tl::unexpected(supported.error());
  std::string_view rest = *supported;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view f = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    if (f.starts_with("PacketSize=")) {
      if (auto v = rsp::parse_hex_u64(f.substr(11)); v && *v >= 64) c->packet_size = std::min<std::uint64_t>(*v, RspClient::max_reply);
    }
  }
  if (auto v = ask("vCont?"); v && v->starts_with("vCont")) {
    c->vcont = true;
    c->vcont_actions = v->substr(5);
  } else if (!v) {
    return tl::unexpected(v.error());
  }

  // The register layout.
  const std::size_t window = (c->packet_size - 8) / 2;
  auto fetch = [&](std::string_view annex) -> tl::expected<std::string, std::string> {
    std::string doc;
    for (unsigned piece = 0; piece < 1024; ++piece) {
      auto r = ask(fmt::format("qXfer:features:read:{}:{:x},{:x}", annex, doc.size(), window));
      if (!r) return r;
      if (r->empty() || (r->front() != 'm' && r->front() != 'l'))
        return tl::unexpected(fmt::format("QEMU answered '{}' for {}", r->substr(0, 16), annex));
      doc.append(*r, 1);
      if (r->front() == 'l') return doc;
    }
    return tl::unexpected(fmt::format("{} is too long", annex));
  };
  auto tdesc = TargetDescription::load(fetch);
  if (!tdesc) return tl::unexpected(fmt::format("{}: {}", endpoint.describe(), tdesc.error()));
  c->tdesc = std::move(*tdesc);
  if (!c->tdesc.find("pswm") || !c->tdesc.find("pswa") || !c->tdesc.find("cr0"))
    return tl::unexpected(fmt::format("{} is not an s390x system emulator (no PSW or control registers in its target description)",
                                      endpoint.describe()));
  for (const RemoteRegister& r : c->tdesc.registers()) c->slots.push_back(slot_of(r.name));
  c->prefix_register = c->tdesc.find("prefix") != nullptr;
  c->kvm = c->tdesc.find("pfault_token") != nullptr;

  // vCPUs: QEMU's thread ids, in the order it lists them (cpu_index + 1).
  std::string list = "qfThreadInfo";
  for (int guard = 0; guard < 4096; ++guard) {
    auto r = ask(list);
    if (!r) return tl::unexpected(r.error());
    if (r->empty() || r->front() == 'l') break;
    if (r->front() != 'm') return tl::unexpected(fmt::format("QEMU answered '{}' to {}", r->substr(0, 16), list));
    std::string_view ids = std::string_view(*r).substr(1);
    while (!ids.empty()) {
      const auto comma = ids.find(',');
      c->threads.emplace_back(ids.substr(0, comma));
      ids = comma == std::string_view::npos ? std::string_view{} : ids.substr(comma + 1);
    }
    list = "qsThreadInfo";
  }
  if (c->threads.empty()) return tl::unexpected(fmt::format("{} lists no vCPU threads", endpoint.describe()));
  if (c->threads.size() > 4096) return tl::unexpected(std::string("more than 4096 vCPU threads"));
  c->cpus.resize(c->threads.size());

  return setup_storage_locked(*c);
}

tl::expected<void, std::string> QemuBackend::setup_storage_locked(Connection& c) {
  Storage storage;
  if (!options_.ram_file.empty()) {
    auto map = FileMapping::open(options_.ram_file, FileMapping::default_recheck, FileMapping::Mode::shared_writable);
    if (!map) return tl::unexpected(map.error());
    c.ram_size = (*map)->size();
    if (c.ram_size == 0) return tl::unexpected(fmt::format("{} is empty: is it the guest's RAM file?", options_.ram_file));
    if (auto r = storage.add_file(0, *map, 0, c.ram_size); !r) return tl::unexpected(r.error());
  } else {
    std::string out;
    auto r = c.client->request("qRcmd," + rsp::hex_encode(std::string_view("info memory_size_summary")), &out,
                               options_.timeout);
    if (!r) return tl::unexpected(r.error());
    const auto at = out.find("base memory:");
    if (at == std::string::npos)
      return tl::unexpected(fmt::format("QEMU's monitor did not say the RAM size ('info memory_size_summary': {})", out));
    c.ram_size = std::strtoull(out.c_str() + at + 12, nullptr, 10);
    if (c.ram_size == 0) return tl::unexpected(fmt::format("QEMU reports no RAM ('{}')", out));
    auto mode = c.client->request("Qqemu.PhyMemMode:1");
    if (!mode) return tl::unexpected(mode.error());
    if (*mode != "OK")
      return tl::unexpected(fmt::format("QEMU refused its physical-memory mode ('{}'); give the RAM file with --qemu-mem", *mode));
    // QEMU refuses an `m` for more than half its PacketSize (gdbstub handle_read_mem), and
    // an `M` must fit its packet buffer with the hex and the header.
    auto power_of_two_below = [](std::size_t limit) {
      std::size_t chunk = 1;
      while (chunk * 2 <= limit && chunk * 2 <= page_size) chunk *= 2;
      return chunk;
    };
    c.pages = std::make_shared<GdbstubPages>(c.client, power_of_two_below(c.packet_size / 2),
                                             power_of_two_below((c.packet_size - 64) / 2), c.ram_size);
    if (auto a = storage.add_demand(0, c.ram_size, c.pages); !a) return tl::unexpected(a.error());
  }
  c.engine = std::make_unique<EmulatedBackend>(std::move(storage), std::vector<CpuState>(c.threads.size()));
  return {};
}

unsigned QemuBackend::cpu_count() const {
  std::lock_guard lk(mutex_);
  return conn_ ? static_cast<unsigned>(conn_->threads.size()) : 0;
}

std::string QemuBackend::thread_id(unsigned cpu) const { return conn_->threads.at(cpu); }

void QemuBackend::lost_locked(std::string why) const {
  if (!lost_) {
    lost_ = std::move(why);
    if (options_.log) options_.log(fmt::format("lost QEMU: {}", *lost_));
  }
}

std::optional<std::string> QemuBackend::unavailable_reason() const {
  std::lock_guard lk(mutex_);
  if (lost_) return fmt::format("QEMU's gdbstub at {} is gone: {}", options_.gdbstub, *lost_);
  if (conn_ && conn_->engine) {
    if (auto why = conn_->engine->unavailable_reason()) return why;
  }
  if (run_ != Run::stopped) return std::string("the guest is running");
  return std::nullopt;
}

tl::expected<void, HostError> QemuBackend::ready_locked() const {
  if (lost_ || !conn_) return tl::unexpected(HostError::eio);
  if (conn_->client->broken()) {
    lost_locked(conn_->client->failure());
    return tl::unexpected(HostError::eio);
  }
  if (run_ != Run::stopped) return tl::unexpected(HostError::ebusy);
  return {};
}

tl::expected<std::string, std::string> QemuBackend::request_locked(std::string_view payload, std::string* console) const {
  auto r = conn_->client->request(payload, console, options_.timeout);
  if (!r) lost_locked(r.error());
  return r;
}

// The registers of one vCPU: `g` first (under KVM it synchronises QEMU's copy of the
// state), then every register g does not carry, pipelined.
tl::expected<CpuState, HostError> QemuBackend::fetch_cpu_locked(unsigned cpu) const {
  if (auto r = ready_locked(); !r) return tl::unexpected(r.error());
  if (cpu >= conn_->threads.size()) return tl::unexpected(HostError::einval);
  if (conn_->cpus[cpu]) return *conn_->cpus[cpu];
  Connection& c = *conn_;
  const auto& regs = c.tdesc.registers();
  std::vector<std::string> requests{"Hg" + thread_id(cpu), "g"};
  auto first = c.client->request_batch(requests, options_.timeout);
  if (!first) {
    lost_locked(first.error());
    return tl::unexpected(HostError::eio);
  }
  if ((*first)[0] != "OK") return tl::unexpected(HostError::einval);
  auto g = rsp::hex_decode((*first)[1]);
  if (!g) return tl::unexpected(HostError::eio);
  CpuState s;
  std::size_t offset = 0;
  bool in_g = true;
  std::vector<std::size_t> rest;
  for (std::size_t i = 0; i < regs.size(); ++i) {
    const std::size_t bytes = regs[i].bits / 8;
    if (in_g && offset + bytes <= g->size()) {
      store_register(s, c.slots[i], std::span(*g).subspan(offset, bytes));
      offset += bytes;
      continue;
    }
    in_g = false;  // `g` carries the first registers only (QEMU: the 18 core ones)
    if (c.slots[i].kind != Slot::Kind::none) rest.push_back(i);
  }
  std::vector<std::string> ps;
  for (std::size_t i : rest) ps.push_back(fmt::format("p{:x}", regs[i].number));
  auto replies = c.client->request_batch(ps, options_.timeout);
  if (!replies) {
    lost_locked(replies.error());
    return tl::unexpected(HostError::eio);
  }
  for (std::size_t k = 0; k < rest.size(); ++k) {
    auto bytes = rsp::hex_decode((*replies)[k]);
    if (!bytes || bytes->size() != regs[rest[k]].bits / 8) continue;  // E14: not readable here
    store_register(s, c.slots[rest[k]], *bytes);
  }
  if (!c.prefix_register) {
    if (fetch_dump_registers_locked()) {
      const CpuState& d = (*c.dump_cpus)[cpu];
      s.prefix = d.prefix;
      s.present.prefix = d.present.prefix;
      s.todpr = d.todpr;
      s.present.todpr = d.present.todpr;
      if (!s.present.cputm) {
        s.cputm = d.cputm;
        s.present.cputm = d.present.cputm;
      }
      if (!s.present.ckc) {
        s.ckc = d.ckc;
        s.present.ckc = d.present.ckc;
      }
    }
  }
  c.cpus[cpu] = s;
  (void)c.engine->set_cpu_state(cpu, s);
  return s;
}

// QEMU 7.2 under TCG has no prefix register in its gdbstub. Its dump-guest-memory writes
// every CPU's prefix, timers and TOD programmable register as ELF notes: a one-page dump
// (`begin 0, length 4096`) is cheap and gives them all. QEMU writes the file itself, so
// this works only when QEMU runs on this host; elsewhere the prefix stays unknown.
tl::expected<void, std::string> QemuBackend::fetch_dump_registers_locked() const {
  Connection& c = *conn_;
  if (c.dump_cpus) return {};
  if (c.dump_failure) return tl::unexpected(*c.dump_failure);
  auto fail = [&](std::string why) -> tl::expected<void, std::string> {
    c.dump_failure = why;
    if (options_.log) options_.log(fmt::format("the vCPUs' prefixes are unknown: {}", why));
    return tl::unexpected(std::move(why));
  };
  if (!is_local(c.client->endpoint()))
    return fail("QEMU's gdbstub has no prefix register and QEMU runs on another host");
  std::vector<CpuState> cpus;
  auto r = with_monitor_file("dump-guest-memory {} 0 4096", [&](const std::string& path) -> tl::expected<void, std::string> {
    auto core = dump::load_core(path);
    if (!core) return tl::unexpected(core.error());
    for (unsigned i = 0; i < core->backend->cpu_count(); ++i) cpus.push_back(*core->backend->cpu_state(i));
    return {};
  });
  if (!r) return lost_ ? tl::unexpected(r.error()) : fail(fmt::format("QEMU's one-page dump could not be read: {}", r.error()));
  if (cpus.size() != c.threads.size())
    return fail(fmt::format("QEMU's dump has {} CPUs, its gdbstub {}", cpus.size(), c.threads.size()));
  c.dump_cpus = std::move(cpus);
  return {};
}

tl::expected<void, std::string> QemuBackend::with_monitor_file(
    const std::string& command_format, const std::function<tl::expected<void, std::string>(const std::string&)>& use) const {
  std::string dir = (std::filesystem::temp_directory_path() / "s390bridge-qemu-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return tl::unexpected(std::string("cannot create a temporary directory"));
  const std::string path = dir + "/out";
  auto cleanup = [&] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  };
  std::string out;
  auto r = conn_->client->request("qRcmd," + rsp::hex_encode(std::string_view(fmt::vformat(command_format, fmt::make_format_args(path)))),
                                  &out, monitor_timeout);
  if (!r) {
    cleanup();
    lost_locked(r.error());
    return tl::unexpected(r.error());
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    cleanup();
    return tl::unexpected(fmt::format("QEMU wrote no file ({})", out.empty() ? *r : out));
  }
  auto used = use(path);
  cleanup();
  return used;
}

tl::expected<void, HostError> QemuBackend::fetch_keys_locked() const {
  Connection& c = *conn_;
  if (c.keys_loaded) return {};
  if (!is_local(c.client->endpoint())) return tl::unexpected(HostError::enotsup);
  std::optional<dump::StorageKeyTable> table;
  auto r = with_monitor_file("dump-skeys {}", [&](const std::string& path) -> tl::expected<void, std::string> {
    auto text = FileMapping::open(path);
    if (!text) return tl::unexpected(text.error());
    const auto bytes = (*text)->bytes();
    auto keys = dump::parse_skeys(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (!keys) return tl::unexpected(keys.error().message);
    table = std::move(*keys);
    return {};
  });
  if (!r) {
    if (lost_) return tl::unexpected(HostError::eio);
    // A guest that never enabled storage keys has none to dump: every key is 0.
    if (r.error().find("not using storage keys") == std::string::npos) {
      if (options_.log) options_.log(fmt::format("storage keys unavailable: {}", r.error()));
      return tl::unexpected(HostError::eio);
    }
  }
  Storage& storage = c.engine->storage();
  if (table) {
    for (const auto& run : table->runs())
      for (std::size_t i = 0; i < run.keys.size(); ++i) storage.set_key((run.first_frame + i) * dump::skey_frame_size, run.keys[i]);
  }
  c.keys_loaded = true;
  return {};
}

tl::expected<StorageKey, HostError> QemuBackend::get_key(std::uint64_t absolute) const {
  std::lock_guard lk(mutex_);
  if (auto r = ready_locked(); !r) return tl::unexpected(r.error());
  if (auto k = fetch_keys_locked(); !k) return tl::unexpected(k.error());
  return conn_->engine->get_key(absolute);
}

tl::expected<void, HostError> QemuBackend::set_key(std::uint64_t, StorageKey) { return tl::unexpected(HostError::enotsup); }

tl::expected<CpuState, HostError> QemuBackend::cpu_state(unsigned cpu) const {
  std::lock_guard lk(mutex_);
  return fetch_cpu_locked(cpu);
}

tl::expected<void, HostError> QemuBackend::set_cpu_state(unsigned cpu, const CpuState& state) {
  std::lock_guard lk(mutex_);
  return set_cpu_state_locked(cpu, state);
}

// Writes the registers that differ from what QEMU has, with `P`.
tl::expected<void, HostError> QemuBackend::set_cpu_state_locked(unsigned cpu, const CpuState& state) {
  auto old = fetch_cpu_locked(cpu);
  if (!old) return tl::unexpected(old.error());
  Connection& c = *conn_;
  const auto& regs = c.tdesc.registers();
  // What QEMU cannot take: a prefix or TOD programmable register change it has no
  // register for.
  if ((state.prefix != old->prefix && !c.prefix_register) || state.todpr != old->todpr)
    return tl::unexpected(HostError::enotsup);
  std::vector<std::string> writes{"Hg" + thread_id(cpu)};
  for (std::size_t i = 0; i < regs.size(); ++i) {
    const unsigned bytes = regs[i].bits / 8;
    auto now = register_hex(state, c.slots[i], bytes);
    if (!now || *now == register_hex(*old, c.slots[i], bytes)) continue;
    writes.push_back(fmt::format("P{:x}={}", regs[i].number, *now));
  }
  if (writes.size() == 1) return {};
  auto replies = c.client->request_batch(writes, options_.timeout);
  c.cpus[cpu].reset();
  if (!replies) {
    lost_locked(replies.error());
    return tl::unexpected(HostError::eio);
  }
  for (const std::string& r : *replies)
    if (r != "OK") return tl::unexpected(HostError::einval);
  return {};
}

IpteGuard QemuBackend::ipte_lock() {
  walk_mutex_.lock_shared();
  return IpteGuard([this] { walk_mutex_.unlock_shared(); });
}

bool QemuBackend::table_walks_allowed() const {
  std::lock_guard lk(mutex_);
  return conn_ && !lost_ && run_ == Run::stopped;
}

MemopResult QemuBackend::vcpu_memop(unsigned cpu, const Memop& op) {
  std::lock_guard lk(mutex_);
  auto before = fetch_cpu_locked(cpu);
  if (!before) return MemopResult::host(before.error());
  // Key-controlled protection needs the guest's keys (access key 0 matches every key).
  if ((op.flags & memop_flag::skey_protection) && op.key != 0) {
    if (auto k = fetch_keys_locked(); !k) return MemopResult::host(k.error());
  }
  MemopResult r = conn_->engine->vcpu_memop(cpu, op);
  if (page_source_failed_locked()) return MemopResult::host(HostError::eio);
  // An injected exception changed the PSW (and the lowcore, already in guest storage):
  // the vCPU in QEMU must see it too.
  if ((op.flags & memop_flag::inject_exception) && !r.ok()) {
    auto after = conn_->engine->cpu_state(cpu);
    if (after && (after->psw.mask != before->psw.mask || after->psw.addr != before->psw.addr)) {
      if (auto w = set_cpu_state_locked(cpu, *after); !w) return MemopResult::host(w.error());
    }
  }
  return r;
}

// Whether the physical-memory mode failed during the last operation (the bytes it read
// cannot be trusted). A broken connection is lost; a refused m/M fails that operation only.
bool QemuBackend::page_source_failed_locked() {
  if (!conn_->pages) return false;
  auto why = conn_->pages->take_failure();
  if (!why) return false;
  if (conn_->client->broken()) {
    lost_locked(*why);
  } else if (options_.log) {
    options_.log(fmt::format("a memory access failed: {}", *why));
  }
  return true;
}

MemopResult QemuBackend::vm_memop(const Memop& op) {
  std::lock_guard lk(mutex_);
  if (auto ready = ready_locked(); !ready) return MemopResult::host(ready.error());
  MemopResult r = conn_->engine->vm_memop(op);
  if (page_source_failed_locked()) return MemopResult::host(HostError::eio);
  return r;
}

std::vector<MemoryMap::Range> QemuBackend::ranges() const {
  std::lock_guard lk(mutex_);
  if (!conn_) return {};
  return {Range{0, conn_->ram_size}};
}

void QemuBackend::went_running_locked() {
  for (auto& s : conn_->cpus) s.reset();
  conn_->dump_cpus.reset();
  conn_->dump_failure.reset();
  conn_->keys_loaded = false;
  if (conn_->pages) {
    conn_->pages->drop();
    conn_->engine->storage().drop_cached_pages();
  }
}

// Every vCPU runs; `then` is the state afterwards (running: a stop reply will come and
// someone waits for it; detached: nobody does).
tl::expected<void, HostError> QemuBackend::continue_locked(Run then) {
  went_running_locked();
  stepping_ = false;
  auto s = conn_->client->send(conn_->vcont ? "vCont;c" : "c");
  if (!s) {
    lost_locked(s.error());
    return tl::unexpected(HostError::eio);
  }
  run_ = then;
  return {};
}

tl::expected<void, HostError> QemuBackend::resume(const std::vector<unsigned>&) {
  std::unique_lock walk(walk_mutex_);
  std::lock_guard lk(mutex_);
  if (auto r = ready_locked(); !r) return r;
  return continue_locked(Run::running);
}

tl::expected<void, HostError> QemuBackend::step(unsigned cpu) {
  std::unique_lock walk(walk_mutex_);
  std::lock_guard lk(mutex_);
  if (auto r = ready_locked(); !r) return r;
  if (cpu >= conn_->threads.size()) return tl::unexpected(HostError::einval);
  went_running_locked();
  if (!conn_->vcont) {
    auto h = request_locked("Hc" + thread_id(cpu));
    if (!h) return tl::unexpected(HostError::eio);
  }
  auto s = conn_->client->send(conn_->vcont ? "vCont;s:" + thread_id(cpu) : std::string("s"));
  if (!s) {
    lost_locked(s.error());
    return tl::unexpected(HostError::eio);
  }
  stepping_ = true;
  run_ = Run::running;
  return {};
}

tl::expected<void, HostError> QemuBackend::interrupt() {
  std::shared_ptr<RspClient> client;
  {
    std::lock_guard lk(mutex_);
    if (!conn_ || lost_) return tl::unexpected(HostError::eio);
    if (run_ == Run::stopped) return {};
    client = conn_->client;
  }
  if (auto r = client->interrupt(); !r) {
    std::lock_guard lk(mutex_);
    lost_locked(r.error());
    return tl::unexpected(HostError::eio);
  }
  return {};
}

tl::expected<StopEvent, HostError> QemuBackend::wait_for_stop() {
  std::shared_ptr<RspClient> client;
  {
    std::lock_guard lk(mutex_);
    if (!conn_ || lost_) return tl::unexpected(HostError::eio);
    client = conn_->client;
  }
  for (;;) {
    std::string console;
    auto r = client->receive(std::nullopt, &console);
    if (!console.empty() && options_.log) options_.log(fmt::format("QEMU: {}", console));
    std::lock_guard lk(mutex_);
    if (!conn_ || conn_->client != client) return tl::unexpected(HostError::eio);  // replaced meanwhile
    if (!r) {
      lost_locked(r.error());
      return tl::unexpected(HostError::eio);
    }
    auto ev = parse_stop_locked(*r);
    if (!ev) {
      if (options_.log) options_.log(fmt::format("ignored a packet from QEMU while waiting for a stop: {}", ev.error()));
      continue;
    }
    return *ev;
  }
}

// A stop reply: `T05thread:01;`, `T05thread:01;watch:1000;`, `T02...` after an interrupt,
// `S05`, or `W00`/`X..` when QEMU quits.
tl::expected<StopEvent, std::string> QemuBackend::parse_stop_locked(std::string_view reply) {
  StopEvent ev;
  if (reply.empty()) return tl::unexpected(std::string("an empty packet"));
  const char packet = reply.front();
  if (packet == 'W' || packet == 'X') {
    ev.reason = StopEvent::Reason::exited;
    auto code = rsp::parse_hex_u64(reply.substr(1, std::min<std::size_t>(2, reply.size() - 1)));
    ev.signal = code ? static_cast<int>(*code) : 0;
    run_ = Run::stopped;
    lost_locked(packet == 'W' ? "QEMU exited" : "QEMU was terminated by a signal");
    return ev;
  }
  if ((packet != 'T' && packet != 'S') || reply.size() < 3) return tl::unexpected(fmt::format("'{}'", reply.substr(0, 32)));
  auto sig = rsp::parse_hex_u64(reply.substr(1, 2));
  if (!sig) return tl::unexpected(fmt::format("'{}'", reply.substr(0, 32)));
  std::optional<std::string> thread;
  std::optional<std::uint64_t> watch;
  StopEvent::Watch watch_kind = StopEvent::Watch::write;
  std::string_view rest = reply.substr(3);
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view pair = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    const auto colon = pair.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = pair.substr(0, colon), value = pair.substr(colon + 1);
    if (key == "thread") thread = std::string(value);
    if (key == "watch" || key == "rwatch" || key == "awatch") {
      watch = rsp::parse_hex_u64(value).value_or(0);
      watch_kind = key == "watch" ? StopEvent::Watch::write : key == "rwatch" ? StopEvent::Watch::read : StopEvent::Watch::access;
    }
  }
  run_ = Run::stopped;
  if (thread) {
    auto it = std::find(conn_->threads.begin(), conn_->threads.end(), *thread);
    // Multiprocess form p1.2 is not negotiated; a thread we do not know is the first.
    if (it != conn_->threads.end()) ev.cpu = static_cast<unsigned>(it - conn_->threads.begin());
  }
  const bool was_stepping = std::exchange(stepping_, false);
  if (watch) {
    ev.reason = StopEvent::Reason::watchpoint;
    ev.address = *watch;
    ev.watch = watch_kind;
  } else if (*sig == 2) {
    ev.reason = StopEvent::Reason::interrupted;
  } else if (*sig == 5) {
    ev.reason = was_stepping ? StopEvent::Reason::step : StopEvent::Reason::halted;
    // QEMU does not say swbreak/hwbreak: a stop at an inserted breakpoint's address is one.
    if (!was_stepping && !inserted_.empty()) {
      if (auto s = fetch_cpu_locked(ev.cpu)) {
        for (const auto& [type, address, length] : inserted_) {
          if (address != s->psw.addr || type > 1) continue;
          ev.reason = StopEvent::Reason::breakpoint;
          ev.breakpoint = type == 0 ? StopEvent::Breakpoint::software : StopEvent::Breakpoint::hardware;
        }
      }
    }
  } else {
    ev.reason = StopEvent::Reason::halted;
  }
  ev.signal = static_cast<int>(*sig);
  return ev;
}

tl::expected<void, std::string> QemuBackend::debugger_attached() {
  std::lock_guard lk(mutex_);
  auto reconnect = [&]() -> tl::expected<void, std::string> {
    // A waiter still blocked on the old connection (a guest that never stopped after its
    // debugger left) wakes up with an error and leaves the new connection alone.
    if (conn_) conn_->client->shutdown();
    conn_.reset();
    lost_.reset();
    if (auto r = connect_locked(); !r) {
      lost_ = r.error();
      return tl::unexpected(fmt::format("QEMU's gdbstub at {} is not available: {}", options_.gdbstub, r.error()));
    }
    return {};
  };
  if (lost_ || !conn_ || conn_->client->broken() || run_ == Run::running) return reconnect();
  if (run_ == Run::stopped) return {};
  // Left running by a detach: stop it, as QEMU does when a debugger connects. A guest
  // paused meanwhile (over QMP) sends no stop: the wait then ends the connection, and a
  // new one finds the guest stopped.
  auto client = conn_->client;
  tl::expected<std::string, std::string> r = client->interrupt().and_then([&] { return client->receive(interrupt_timeout); });
  if (!r) return reconnect();
  run_ = Run::stopped;
  stepping_ = false;
  went_running_locked();
  (void)parse_stop_locked(*r);
  if (conn_->pages) {
    if (auto m = request_locked("Qqemu.PhyMemMode:1"); !m || *m != "OK") return reconnect();
  }
  return {};
}

tl::expected<void, HostError> QemuBackend::detach() {
  std::unique_lock walk(walk_mutex_);
  std::lock_guard lk(mutex_);
  if (auto r = ready_locked(); !r) return r;
  for (const auto& [type, address, kind] : inserted_)
    (void)request_locked(fmt::format("z{},{:x},{:x}", type, address, kind));
  inserted_.clear();
  // Whoever talks to QEMU's stub next (GDB directly, after the bridge is gone) expects
  // virtual addresses; debugger_attached() turns the mode on again.
  if (conn_->pages) (void)request_locked("Qqemu.PhyMemMode:0");
  return continue_locked(Run::detached);
}

tl::expected<void, HostError> QemuBackend::kill() {
  if (!options_.allow_kill) return tl::unexpected(HostError::eperm);
  std::lock_guard lk(mutex_);
  if (!conn_ || lost_) return tl::unexpected(HostError::eio);
  (void)conn_->client->send("k");
  lost_locked("QEMU was killed by the debugger (--allow-kill)");
  return {};
}

std::string QemuBackend::vcont_actions() const {
  std::lock_guard lk(mutex_);
  return conn_ ? conn_->vcont_actions : std::string(";c;C;s;S");
}

bool QemuBackend::supports(Type) const { return true; }

tl::expected<void, HostError> QemuBackend::insert(Type type, std::uint64_t address, std::uint64_t kind) {
  std::lock_guard lk(mutex_);
  if (auto r = ready_locked(); !r) return r;
  auto r = request_locked(fmt::format("Z{},{:x},{:x}", static_cast<int>(type), address, kind));
  if (!r) return tl::unexpected(HostError::eio);
  if (r->empty()) return tl::unexpected(HostError::enotsup);  // e.g. read watchpoints under KVM
  if (*r != "OK") return tl::unexpected(HostError::einval);
  inserted_.insert({static_cast<int>(type), address, kind});
  return {};
}

tl::expected<void, HostError> QemuBackend::remove(Type type, std::uint64_t address, std::uint64_t kind) {
  std::lock_guard lk(mutex_);
  if (auto r = ready_locked(); !r) return r;
  auto r = request_locked(fmt::format("z{},{:x},{:x}", static_cast<int>(type), address, kind));
  if (!r) return tl::unexpected(HostError::eio);
  if (r->empty()) return tl::unexpected(HostError::enotsup);
  inserted_.erase({static_cast<int>(type), address, kind});
  if (*r != "OK") return tl::unexpected(HostError::einval);
  return {};
}

tl::expected<std::string, std::string> QemuBackend::monitor_command(std::string_view command) {
  std::lock_guard lk(mutex_);
  if (auto r = ready_locked(); !r)
    return tl::unexpected(lost_ ? *lost_ : std::string("the guest is running: stop it first"));
  std::string out;
  auto r = conn_->client->request("qRcmd," + rsp::hex_encode(command), &out, monitor_timeout);
  if (!r) {
    lost_locked(r.error());
    return tl::unexpected(r.error());
  }
  if (r->empty()) return tl::unexpected(std::string("QEMU's gdbstub does not take monitor commands"));
  if (*r != "OK") return tl::unexpected(fmt::format("QEMU answered {}{}", *r, out.empty() ? "" : ": " + out));
  // A monitor command can change what we cached (cpu N, system_reset, a write with xp...).
  went_running_locked();
  return out;
}

tl::expected<QemuBackend::PauseResult, std::string> QemuBackend::pause_if_running() {
  {
    std::lock_guard lk(mutex_);
    if (run_ == Run::stopped && conn_ && !lost_) return PauseResult{false};
  }
  if (auto r = debugger_attached(); !r) return tl::unexpected(r.error());
  return PauseResult{true};
}

tl::expected<void, std::string> QemuBackend::resume_after_pause() {
  if (auto r = detach(); !r) return tl::unexpected(std::string(host_error_name(r.error())));
  return {};
}

QemuBackend::Description QemuBackend::describe() const {
  std::lock_guard lk(mutex_);
  return describe_locked();
}

QemuBackend::Description QemuBackend::describe_locked() const {
  Description d;
  d.endpoint = options_.gdbstub;
  if (!conn_) return d;
  d.memory_path = conn_->pages ? "QEMU physical-memory mode (Qqemu.PhyMemMode) over the gdbstub"
                               : fmt::format("shared RAM file {}", options_.ram_file);
  d.accelerator = conn_->kvm ? "kvm" : "tcg";
  d.prefix_source = conn_->prefix_register ? "gdbstub register" : "CPU notes of a one-page dump-guest-memory";
  d.ram_size = conn_->ram_size;
  d.registers = static_cast<unsigned>(conn_->tdesc.registers().size());
  d.no_ack = conn_->client->no_ack();
  return d;
}

}  // namespace s390b::qemu
