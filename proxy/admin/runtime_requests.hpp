#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/snapshot.hpp"
#include "proxy/state/runtime_state.hpp"

/// The bodies of the admin API's runtime calls (SPEC §6), checked before anything changes.
namespace tg::proxy {

/// Retry-After when a maintenance body names none: ten minutes.
inline constexpr std::int64_t default_maintenance_retry_after = 600;

/// `{"enabled":true,"message":"...","retry_after":600}`: `enabled` required, the rest optional.
/// nullopt with `error` saying what is wrong (bad JSON, unknown key, wrong type, negative).
[[nodiscard]] std::optional<Maintenance> parse_maintenance_request(std::string_view body,
                                                                   std::string& error);

/// `{"active":"green","drain_timeout":"120s","force":false}`.
struct ReleaseRequest {
    config::Color active = config::Color::blue;
    std::optional<config::Duration> drain_timeout;  ///< absent: the tenant's configured one
    bool force = false;                             ///< switch inside a freeze window
};

/// `active` required ("blue" or "green"); nullopt with `error` as for maintenance.
[[nodiscard]] std::optional<ReleaseRequest> parse_release_request(std::string_view body,
                                                                  std::string& error);

}  // namespace tg::proxy
