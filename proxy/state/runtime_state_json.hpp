#pragma once

#include <optional>
#include <string>
#include <string_view>

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

}  // namespace tg::proxy
