#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "config/snapshot.hpp"

namespace tg::proxy {

/// Maintenance mode of the whole proxy or of one tenant (SPEC §5).
struct Maintenance {
    bool enabled = false;
    std::string message;           ///< shown, HTML-escaped, on the maintenance page
    std::int64_t retry_after = 0;  ///< seconds, sent as Retry-After

    bool operator==(const Maintenance&) const = default;
};

/// A tenant's release colour as switched through the admin API. The switch itself is kept (when
/// and with which drain timeout) so that every replica, and this one after a restart, drains the
/// colour it left with the same deadline.
struct ReleaseState {
    config::Color active = config::Color::blue;
    std::optional<config::Color> previous;  ///< the colour left by the last switch
    std::int64_t switched_at_ms = 0;        ///< Unix time of that switch, milliseconds
    std::int64_t drain_timeout_ms = 0;

    bool operator==(const ReleaseState&) const = default;
};

/// What the admin API changes at run time, on top of the config file: kept in the state file,
/// and shared through Redis with every replica. Replicas order changes by `version` (the Unix
/// milliseconds of the change, made strictly increasing), so the latest change wins everywhere.
struct RuntimeState {
    std::uint64_t version = 0;
    std::string origin;  ///< the replica that made the latest change
    Maintenance global_maintenance;
    std::map<std::string, Maintenance, std::less<>> tenant_maintenance;  ///< enabled ones only
    std::map<std::string, ReleaseState, std::less<>> releases;           ///< switched tenants only
    /// Tenants added through the admin API (SPEC §6), by name: the `tenants.NAME` shape as
    /// compact JSON text, kept as the API accepted it and checked again at every merge with
    /// the config file (whose tenants win a conflict).
    std::map<std::string, std::string, std::less<>> tenants;

    bool operator==(const RuntimeState&) const = default;
};

}  // namespace tg::proxy
