#include "proxy/state/runtime_state.hpp"

#include <tuple>

namespace tg::proxy {
namespace {

const Maintenance& newer(const Maintenance& a, const Maintenance& b) {
    return std::tie(a.changed_ms, a.enabled, a.retry_after, a.message) >=
                   std::tie(b.changed_ms, b.enabled, b.retry_after, b.message)
               ? a
               : b;
}

const ReleaseState& newer(const ReleaseState& a, const ReleaseState& b) {
    return std::tie(a.switched_at_ms, a.active, a.drain_timeout_ms) >=
                   std::tie(b.switched_at_ms, b.active, b.drain_timeout_ms)
               ? a
               : b;
}

const RuntimeTenant& newer(const RuntimeTenant& a, const RuntimeTenant& b) {
    return std::tie(a.changed_ms, a.definition) >= std::tie(b.changed_ms, b.definition) ? a : b;
}

/// `into` with each of `from`'s entries where it is the newer one.
template <class Map>
void merge_into(Map& into, const Map& from) {
    for (const auto& [name, entry] : from) {
        const auto found = into.find(name);
        if (found != into.end() &&
            (found->second == entry || &newer(found->second, entry) != &entry))
            continue;
        into.insert_or_assign(name, entry);
    }
}

}  // namespace

RuntimeState merge_runtime_states(const RuntimeState& a, const RuntimeState& b) {
    RuntimeState merged = std::tie(a.version, a.origin) >= std::tie(b.version, b.origin) ? a : b;
    merged.global_maintenance = newer(a.global_maintenance, b.global_maintenance);
    for (const RuntimeState* side : {&a, &b}) {
        merge_into(merged.tenant_maintenance, side->tenant_maintenance);
        merge_into(merged.releases, side->releases);
    }
    // Built on `a`'s tenants, so that the result shares their tree: a diff against `a` (what a
    // replica serves) then skips all but what `b` brought.
    merged.tenants = a.tenants;
    merge_into(merged.tenants, b.tenants);
    return merged;
}

RuntimeState changed_entries(const RuntimeState& before, const RuntimeState& after, bool& dropped) {
    RuntimeState change = after;
    change.tenants = {};
    RuntimeTenants::diff(
        before.tenants, after.tenants,
        [&](const std::string& name, const RuntimeTenant*, const RuntimeTenant* now) {
            if (now)
                change.tenants.insert_or_assign(name, *now);
            else
                dropped = true;
        });
    const auto keep_changed = [&](auto& entries, const auto& previous) {
        for (const auto& [name, entry] : previous)
            if (!entries.contains(name)) dropped = true;
        std::erase_if(entries, [&](const auto& item) {
            const auto found = previous.find(item.first);
            return found != previous.end() && found->second == item.second;
        });
    };
    keep_changed(change.tenant_maintenance, before.tenant_maintenance);
    keep_changed(change.releases, before.releases);
    return change;
}

void apply_changed_entries(RuntimeState& state, const RuntimeState& change) {
    state.version = change.version;
    state.origin = change.origin;
    state.global_maintenance = change.global_maintenance;
    for (const auto& [name, entry] : change.tenant_maintenance)
        state.tenant_maintenance.insert_or_assign(name, entry);
    for (const auto& [name, entry] : change.releases) state.releases.insert_or_assign(name, entry);
    for (const auto& [name, entry] : change.tenants) state.tenants.insert_or_assign(name, entry);
}

}  // namespace tg::proxy
