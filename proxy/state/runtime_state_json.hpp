#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "proxy/state/runtime_state.hpp"

/// RuntimeState as JSON: the one shape used by the state file, Redis and the audit log.
namespace tg::proxy {

/// The state as compact JSON text (colours as "blue"/"green").
[[nodiscard]] std::string runtime_state_text(const RuntimeState& state);
[[nodiscard]] boost::json::value to_json(const Maintenance& maintenance);
[[nodiscard]] boost::json::value to_json(const ReleaseState& release);

/// Parses what to_json wrote. Unknown keys, wrong types and bad colours are refused: nullopt
/// with `error` naming the key path ("releases.acme.active: expected \"blue\" or \"green\"").
[[nodiscard]] std::optional<RuntimeState> runtime_state_from_json(std::string_view text,
                                                                  std::string& error);
/// The state's entries as the fields of a Redis hash, flat (field, value, field, value...):
/// "global_maintenance", then one field per entry, "tenant_maintenance:NAME", "releases:NAME"
/// and "tenants:NAME", each valued with the entry's JSON. The version and origin are two more
/// fields, "version" (digits) and "origin" (the replica id), written by whoever stores them.
[[nodiscard]] std::vector<std::string> runtime_state_fields(const RuntimeState& state);
/// Parses such fields, with the version and origin, as HGETALL returns them; refused as
/// runtime_state_from_json refuses, and so are an unknown field, a field without a tenant's
/// name, and a version that is missing or not in plain digits (no sign, space or leading 0).
[[nodiscard]] std::optional<RuntimeState> runtime_state_from_fields(
    std::vector<std::string> flat, std::string& error);

}  // namespace tg::proxy
