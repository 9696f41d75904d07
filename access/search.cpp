#include "access/search.h"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "access/backend_reader.h"
#include "backends/translation_context.h"
#include "translate/address.h"

namespace s390b {

namespace {

// Pages translated and read under one hold of the IPTE lock: long enough to amortise the
// lock, short enough never to hold a live guest's IPTE/IDTE for long.
constexpr std::uint64_t batch_pages = 256;  // 1 MiB

// The bytes of virtual memory one invalid entry of each level stands for (z/Architecture
// Principles of Operation, "Dynamic Address Translation": RFX, RSX, RTX, SX, PX).
constexpr std::uint64_t region_first_span = std::uint64_t{1} << 53;
constexpr std::uint64_t region_second_span = std::uint64_t{1} << 42;
constexpr std::uint64_t region_third_span = std::uint64_t{1} << 31;
constexpr std::uint64_t segment_span = std::uint64_t{1} << 20;

std::uint64_t span_of(WalkLevel level) {
  switch (level) {
    case WalkLevel::region_first: return region_first_span;
    case WalkLevel::region_second: return region_second_span;
    case WalkLevel::region_third: return region_third_span;
    case WalkLevel::segment: return segment_span;
    case WalkLevel::page: return page_size;
  }
  return page_size;
}

// How far past `address` nothing can be mapped, given the fault its translation raised;
// nullopt: nothing above `address` can be mapped in this space.
std::optional<std::uint64_t> skip_after(const Fault& f, const std::function<std::optional<WalkLevel>()>& stop_level) {
  switch (f.code) {
    case PgmCode::region_first_translation: return region_first_span;
    case PgmCode::region_second_translation: return region_second_span;
    case PgmCode::region_third_translation: return region_third_span;
    case PgmCode::segment_translation: return segment_span;
    case PgmCode::page_translation: return page_size;
    case PgmCode::asce_type: return std::nullopt;  // beyond what the ASCE designates
    default: {
      // A table entry outside storage (addressing) or malformed (translation
      // specification): the level whose entry failed covers the span to skip.
      const auto level = stop_level();
      return level ? span_of(*level) : page_size;
    }
  }
}

// The intervals to look at, [first, last] inclusive, in ascending order.
struct Interval {
  std::uint64_t first, last;
};

std::vector<Interval> clip(std::vector<Interval> in, std::uint64_t start, std::uint64_t end) {
  std::sort(in.begin(), in.end(), [](const Interval& a, const Interval& b) { return a.first < b.first; });
  std::vector<Interval> out;
  for (Interval i : in) {
    i.first = std::max(i.first, start);
    i.last = std::min(i.last, end);
    if (i.first > i.last) continue;
    if (!out.empty() && i.first <= out.back().last + 1 && out.back().last != ~std::uint64_t{0}) {
      out.back().last = std::max(out.back().last, i.last);
    } else {
      out.push_back(i);
    }
  }
  return out;
}

// Finds the pattern in a stream of chunks; chunks contiguous in the view are searched as
// one, so a match may span them.
class Matcher {
 public:
  Matcher(std::span<const std::uint8_t> pattern, std::size_t max_matches)
      : pattern_(pattern.begin(), pattern.end()),
        searcher_(pattern_.begin(), pattern_.end()),
        max_matches_(max_matches) {}

  // Returns false once enough matches were found.
  bool feed(std::uint64_t address, std::uint64_t absolute, std::span<const std::uint8_t> bytes,
            std::vector<SearchMatch>& out) {
    if (tail_.empty() || tail_end_ != address) {
      tail_.clear();
      tail_abs_.clear();
    }
    const std::uint64_t buffer_address = address - tail_.size();
    buffer_.assign(tail_.begin(), tail_.end());
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    auto abs_at = [&](std::size_t i) { return i < tail_.size() ? tail_abs_[i] : absolute + (i - tail_.size()); };
    for (auto it = buffer_.begin();;) {
      it = std::search(it, buffer_.end(), searcher_);
      if (it == buffer_.end()) break;
      const auto i = static_cast<std::size_t>(it - buffer_.begin());
      out.push_back({buffer_address + i, abs_at(i)});
      if (out.size() >= max_matches_) return false;
      ++it;
    }
    // Keep the last pattern-1 bytes for a match that continues into the next chunk.
    const std::size_t keep = std::min(buffer_.size(), pattern_.size() - 1);
    std::vector<std::uint64_t> abs(keep);
    for (std::size_t k = 0; k < keep; ++k) abs[k] = abs_at(buffer_.size() - keep + k);
    tail_.assign(buffer_.end() - static_cast<std::ptrdiff_t>(keep), buffer_.end());
    tail_abs_ = std::move(abs);
    tail_end_ = address + bytes.size();
    return true;
  }

 private:
  std::vector<std::uint8_t> pattern_;
  std::boyer_moore_horspool_searcher<std::vector<std::uint8_t>::const_iterator> searcher_;
  std::size_t max_matches_;
  std::vector<std::uint8_t> buffer_;
  std::vector<std::uint8_t> tail_;
  std::vector<std::uint64_t> tail_abs_;  // the absolute address of each tail byte
  std::uint64_t tail_end_ = 0;           // the view address just past the tail
};

}  // namespace

SearchResult search(Backend& backend, const SearchRequest& req,
                    const std::function<bool(const SearchProgress&)>& progress) {
  SearchResult result;
  auto fail = [&](HostError e, std::string message) {
    result.error = e;
    result.message = std::move(message);
    result.complete = false;
    return result;
  };
  if (req.pattern.empty() || req.pattern.size() > max_pattern || req.start > req.end || req.max_matches == 0)
    return fail(HostError::einval, "bad search request");
  if (req.cpu >= backend.cpu_count()) return fail(HostError::einval, "no such cpu");
  auto state = backend.cpu_state(req.cpu);
  if (!state) return fail(state.error(), "cannot read the vCPU state");
  const TranslationContext ctx = translation_context(*state, backend.facilities());
  BackendReader reader(backend);

  // What the view is: resolved once (for the cpu view, as the PSW selects it).
  std::optional<ResolvedSpace> space;
  {
    IpteGuard guard = backend.ipte_lock();  // ART may read the access list
    auto r = resolve_space(reader, ctx, req.view, req.view.ar, req.start, AccessMode::fetch);
    if (!r) {
      // The view designates no space (access-register translation failed): say why.
      result.view_fault = r.error();
      result.message = "the view designates no address space: " + describe_failure(MemopResult::exception(r.error()));
      result.complete = false;
      return result;
    }
    space = *r;
  }
  const bool walks = space->kind == ResolvedSpace::Kind::dat && !space->asce.real_space();
  if (walks && !backend.table_walks_allowed())
    return fail(HostError::enolck, "this backend cannot lock the guest's DAT tables");

  // Where to look: everything (a DAT space: the walk says what is mapped), or the storage
  // the backend has (real and absolute views; real also sees the prefix swap).
  std::vector<Interval> intervals;
  if (walks) {
    intervals.push_back({req.start, req.end});
  } else {
    const MemoryMap* map = backend.memory_map();
    if (!map) return fail(HostError::enotsup, "this backend has no memory map to search real or absolute storage");
    std::vector<Interval> raw;
    for (const auto& r : map->ranges()) raw.push_back({r.start, r.start + r.size - 1});
    if (space->kind == ResolvedSpace::Kind::real) {
      const std::uint64_t prefix = ctx.prefix & prefix_mask;
      raw.push_back({0, prefix_area_size - 1});
      raw.push_back({prefix, prefix + prefix_area_size - 1});
    }
    intervals = clip(std::move(raw), req.start, req.end);
  }

  Matcher matcher(req.pattern, req.max_matches);
  std::vector<std::uint8_t> page(page_size);
  for (const Interval& iv : intervals) {
    std::uint64_t va = iv.first;
    bool more = true;
    while (more) {
      if (progress && !progress({va, result.scanned})) {
        result.complete = false;
        return result;
      }
      IpteGuard guard = backend.ipte_lock();  // the walks of this batch and the reads they authorise
      DatWalkCache cache;
      for (std::uint64_t n = 0; n < batch_pages && more; ++n) {
        const std::uint64_t page_end = std::min(iv.last, va | (page_size - 1));
        const std::uint64_t length = page_end - va + 1;
        ++result.translations;
        auto abs = translate_in_space(reader, ctx, *space, va, AccessMode::fetch, nullptr, &cache);
        std::uint64_t next = page_end + 1;  // 0 when the page ends the address space
        if (!abs) {
          // The level whose table entry could not be used; none when every entry was
          // read and the frame itself lies outside storage (then only this page is known
          // to be unreadable: a dump may back part of a large frame).
          auto stop_level = [&]() -> std::optional<WalkLevel> {
            WalkTrace trace;
            (void)translate_in_space(reader, ctx, *space, va, AccessMode::fetch, &trace);
            if (trace.depth == 0 || trace.steps[trace.depth - 1].entry_read) return std::nullopt;
            return trace.steps[trace.depth - 1].level;
          };
          const auto skip = skip_after(abs.error(), stop_level);
          if (!skip) return result;  // nothing above va is mapped in this space
          next = (va & ~(*skip - 1)) + *skip;  // 0 on wrapping past 2^64
        } else {
          Memop op;
          op.kind = MemopKind::absolute_read;
          op.gaddr = *abs;
          op.size = static_cast<std::uint32_t>(length);
          op.buf = std::span(page).first(length);
          const MemopResult r = backend.vm_memop(op);
          if (r.ok()) {
            result.scanned += length;
            if (!matcher.feed(va, *abs, op.buf, result.matches)) {
              result.complete = false;
              return result;
            }
          } else if (!r.is_exception() && r.error != HostError::enodata) {
            // A page the dump does not hold (ENODATA) is skipped like an unmapped one.
            return fail(r.error, describe_failure(r));
          }
        }
        if (next == 0 || next > iv.last || next <= va) more = false;
        va = next;
      }
    }
  }
  return result;
}

}  // namespace s390b
