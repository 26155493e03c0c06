#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "config/persistent_map.hpp"
#include "config/snapshot.hpp"

namespace tg::proxy {

/// Maintenance mode of the whole proxy or of one tenant (SPEC §5).
struct Maintenance {
    bool enabled = false;
    std::string message;           ///< shown, HTML-escaped, on the maintenance page
    std::int64_t retry_after = 0;  ///< seconds, sent as Retry-After
    std::int64_t changed_ms = 0;   ///< when it was last set (Unix ms): the newest setting wins

    bool operator==(const Maintenance&) const = default;
    /// The same mode, whenever it was set.
    [[nodiscard]] bool same_setting(const Maintenance& other) const {
        return enabled == other.enabled && message == other.message &&
               retry_after == other.retry_after;
    }
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

/// A tenant added through the admin API: the `tenants.NAME` shape as compact JSON text, kept as
/// the API accepted it and checked again at every merge with the config file (whose tenants win
/// a conflict); or, once removed, a tombstone with no definition.
struct RuntimeTenant {
    std::string definition;       ///< empty: removed
    std::int64_t changed_ms = 0;  ///< when it was last set or removed (Unix ms): the newest wins

    bool operator==(const RuntimeTenant&) const = default;
    [[nodiscard]] bool removed() const { return definition.empty(); }
};

/// Runtime tenants by name. Copies share their entries: a change to one of 20,000 copies a
/// path of the tree, not the definitions.
using RuntimeTenants = config::PersistentMap<RuntimeTenant>;

/// What the admin API changes at run time, on top of the config file: kept in the state file,
/// and shared through Redis with every replica. `version` (the Unix milliseconds of the latest
/// change, made strictly increasing) orders whole states; each entry also carries when it was
/// set, so that changes made on two replicas while Redis was away are merged, entry by entry,
/// rather than one replica's overwriting the other's.
struct RuntimeState {
    std::uint64_t version = 0;
    std::string origin;  ///< the replica that made the latest change
    Maintenance global_maintenance;
    /// Turned off ones are kept (with when), so that an older "on" cannot come back in a merge.
    std::map<std::string, Maintenance, std::less<>> tenant_maintenance;
    std::map<std::string, ReleaseState, std::less<>> releases;  ///< switched tenants only
    /// Tenants added through the admin API (SPEC §6), by name. Removed ones are kept as
    /// tombstones (with when), so that an older definition cannot come back in a merge; every
    /// reader skips them.
    RuntimeTenants tenants;

    bool operator==(const RuntimeState&) const = default;
    /// The same entries, whatever the version and origin.
    [[nodiscard]] bool same_entries(const RuntimeState& other) const {
        return global_maintenance == other.global_maintenance &&
               tenant_maintenance == other.tenant_maintenance && releases == other.releases &&
               tenants == other.tenants;
    }
};

/// Every entry of `a` and `b` at its newest (maintenance and tenants by changed_ms, a release by
/// switched_at_ms; a tie goes to the larger value, the same on every replica). The version and
/// origin are those of the newer state.
[[nodiscard]] RuntimeState merge_runtime_states(const RuntimeState& a, const RuntimeState& b);

/// What `after` changed from `before`, as a state of its own: the version, origin and global
/// maintenance of `after`, and of the per-tenant entries only those `after` set anew. (The
/// tenants are compared by diff, which skips what the two share.) `dropped` is set when
/// `after` lacks an entry of `before`: a change of this shape cannot say so.
[[nodiscard]] RuntimeState changed_entries(const RuntimeState& before, const RuntimeState& after,
                                           bool& dropped);

/// `state` with a change from changed_entries applied: its entries set, the others kept.
void apply_changed_entries(RuntimeState& state, const RuntimeState& change);

}  // namespace tg::proxy
