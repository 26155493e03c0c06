#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/snapshot.hpp"

/// Blue-green release colours and the pool a tenant's new requests go to (SPEC §5).
namespace tg::routing {

/// "blue" or "green", as written in the config, the admin API and the metrics.
[[nodiscard]] std::string_view color_name(config::Color color) noexcept;

/// The colour spelled exactly "blue" or "green"; nullopt for anything else.
[[nodiscard]] std::optional<config::Color> parse_color(std::string_view text) noexcept;

/// The pool serving new requests: the tenant's `pool` without a release, otherwise the pool of
/// `override_active` (the colour switched to at run time through the admin API) or, when
/// there is no override, of the configured `release.active`.
[[nodiscard]] const std::string& active_pool(const config::TenantPolicy& policy,
                                             std::optional<config::Color> override_active) noexcept;

}  // namespace tg::routing
