#include "access/json.h"

#include <fmt/format.h>

namespace s390b {

namespace {

constexpr std::string_view space_names[] = {"primary", "access-register", "secondary", "home"};

std::string_view kind_name(ResolvedSpace::Kind k) {
  switch (k) {
    case ResolvedSpace::Kind::dat: return "dat";
    case ResolvedSpace::Kind::real: return "real";
    case ResolvedSpace::Kind::absolute: return "absolute";
  }
  return "?";
}

}  // namespace

std::string hex_string(std::uint64_t value) { return fmt::format("{:#x}", value); }

Json failure_json(const MemopResult& r) {
  Json j;
  switch (r.status) {
    case MemopResult::Status::ok: j["result"] = "ok"; break;
    case MemopResult::Status::exception:
      j["result"] = "exception";
      j["pgm"] = static_cast<unsigned>(r.fault.code);
      j["name"] = std::string(pgm_name(r.fault.code));
      if (r.fault.teid) {
        const Teid t = *r.fault.teid;
        j["teid"] = hex_string(t.raw());
        j["teid_address"] = hex_string(t.address());
        j["access"] = t.fsi_is_store() ? "store" : t.fsi_is_fetch() ? "fetch" : "unknown";
        j["space"] = std::string(space_names[static_cast<unsigned>(t.as())]);
      }
      if (r.fault.exc_access_id) j["access_id"] = *r.fault.exc_access_id;
      break;
    case MemopResult::Status::host_error:
      j["result"] = "error";
      j["errno"] = std::string(host_error_name(r.error));
      j["message"] = describe_failure(r);
      break;
  }
  return j;
}

Json translation_json(const TranslationReport& rep, AccessMode mode) {
  Json j;
  j["address"] = hex_string(rep.address);
  j["view"] = rep.space.describe();
  j["access"] = mode == AccessMode::store ? "store" : "fetch";
  if (rep.error) {
    j["result"] = "error";
    j["errno"] = std::string(host_error_name(*rep.error));
    j["message"] = describe_failure(MemopResult::host(*rep.error));
    return j;
  }
  if (rep.used_art) {
    const ArtTrace& a = rep.art;
    Json art;
    art["alet"] = hex_string(a.alet.raw);
    art["list"] = a.list_from_primary_aste ? "primary-aste" : "duct";
    if (a.reached >= 1) art["ald_address"] = hex_string(a.ald_address);
    if (a.reached >= 2) art["ale_address"] = hex_string(a.ale_address);
    if (a.reached >= 3) {
      art["aste_address"] = hex_string(a.aste_address);
      art["asce"] = hex_string(a.aste.asce);
    }
    if (!a.stop_reason.empty()) art["stopped"] = std::string(a.stop_reason);
    j["art"] = std::move(art);
  }
  if (rep.resolved) {
    Json space;
    space["kind"] = std::string(kind_name(rep.resolved->kind));
    if (rep.resolved->kind == ResolvedSpace::Kind::dat) space["asce"] = hex_string(rep.resolved->asce.raw);
    j["space"] = std::move(space);
    j["effective"] = hex_string(rep.effective);
  }
  if (rep.walked) {
    Json steps = Json::array();
    for (unsigned i = 0; i < rep.walk.depth; ++i) {
      const WalkStep& s = rep.walk.steps[i];
      Json step;
      step["level"] = std::string(level_name(s.level));
      step["table"] = hex_string(s.table_origin);
      step["index"] = s.index;
      step["entry_address"] = hex_string(s.entry_address);
      step["entry"] = s.entry_read ? Json(hex_string(s.entry)) : Json(nullptr);  // null: outside storage
      steps.push_back(std::move(step));
    }
    j["walk"] = std::move(steps);
    if (!rep.walk.stop_reason.empty()) j["stopped"] = std::string(rep.walk.stop_reason);
    if (rep.absolute && rep.walk.frame_size) j["frame_size"] = rep.walk.frame_size;
  }
  if (rep.absolute) {
    j["result"] = "ok";
    j["absolute"] = hex_string(*rep.absolute);
  } else if (rep.fault) {
    Json f = failure_json(MemopResult::exception(*rep.fault));
    for (auto& [k, v] : f.items()) j[k] = v;
  }
  return j;
}

}  // namespace s390b
