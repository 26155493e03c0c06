#include "proxy/state/runtime_control.hpp"

#include <algorithm>

namespace tg::proxy {
namespace {

std::int64_t unix_ms(std::chrono::system_clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace

RuntimeControl::RuntimeControl(std::string replica_id, RuntimeState initial)
    : replica_id_(std::move(replica_id)),
      runtime_(std::make_shared<const Runtime>(Runtime{std::move(initial), {}})) {}

std::uint64_t RuntimeControl::next_version(WallTime now) const {
    return std::max<std::uint64_t>(state().version + 1, static_cast<std::uint64_t>(unix_ms(now)));
}

RuntimeState RuntimeControl::with_maintenance(const std::optional<std::string>& tenant,
                                              const Maintenance& maintenance, WallTime now) const {
    RuntimeState next = state();
    next.version = next_version(now);
    next.origin = replica_id_;
    Maintenance stamped = maintenance;
    stamped.changed_ms = static_cast<std::int64_t>(next.version);
    (tenant ? next.tenant_maintenance[*tenant] : next.global_maintenance) = std::move(stamped);
    return next;
}

RuntimeState RuntimeControl::with_release(const std::string& tenant, config::Color from,
                                          config::Color to, config::Duration drain_timeout,
                                          WallTime now) const {
    RuntimeState next = state();
    next.version = next_version(now);
    next.origin = replica_id_;
    // Stamped with the version, not the wall clock alone: a switch made here is newer than
    // every one this replica has seen, even when its clock is behind the replica that made those.
    next.releases[tenant] =
        ReleaseState{to, from, static_cast<std::int64_t>(next.version),
                     std::chrono::duration_cast<std::chrono::milliseconds>(drain_timeout).count()};
    return next;
}

RuntimeState RuntimeControl::with_tenant(const std::string& tenant,
                                         std::optional<std::string> definition,
                                         WallTime now) const {
    RuntimeState next = state();
    next.version = next_version(now);
    next.origin = replica_id_;
    const auto changed_ms = static_cast<std::int64_t>(next.version);
    // A removal is kept as a tombstone, and so is the maintenance it takes along, so that an
    // older definition or "on" from a replica that was away cannot come back in a merge.
    next.tenants.insert_or_assign(
        tenant, RuntimeTenant{definition ? std::move(*definition) : "", changed_ms});
    if (!definition) {
        if (const auto found = next.tenant_maintenance.find(tenant);
            found != next.tenant_maintenance.end())
            found->second = Maintenance{false, "", 0, changed_ms};
        next.releases.erase(tenant);
    }
    return next;
}

std::optional<RuntimeState> RuntimeControl::pruned_for(const config::Snapshot& snapshot,
                                                       WallTime now) const {
    RuntimeState next = state();
    const auto gone = [&](const std::string& name) {
        return snapshot.tenants.find(name) == snapshot.tenants.end();
    };
    std::erase_if(next.tenant_maintenance, [&](const auto& entry) { return gone(entry.first); });
    std::erase_if(next.releases, [&](const auto& entry) {
        const auto found = snapshot.tenants.find(entry.first);
        return found == snapshot.tenants.end() || !found->second->policy.release;
    });
    if (next.tenant_maintenance == state().tenant_maintenance && next.releases == state().releases)
        return std::nullopt;
    next.version = next_version(now);
    next.origin = replica_id_;
    return next;
}

void RuntimeControl::apply(RuntimeState next, WallTime wall_now, Clock::time_point now) {
    Drains drains = runtime_->drains;
    for (const auto& [tenant, release] : next.releases) {
        const auto before = state().releases.find(tenant);
        if (before != state().releases.end() && before->second == release) continue;
        drains.erase(tenant);
        if (!release.previous || *release.previous == release.active) continue;
        const WallTime wall_deadline{
            std::chrono::milliseconds(release.switched_at_ms + release.drain_timeout_ms)};
        // A switch that reaches this replica after its deadline (Redis was away) still moves
        // what is left here on the old colour: at once.
        drains[tenant] = Drain{*release.previous, false,
                               now + std::chrono::duration_cast<Clock::duration>(
                                         std::max(wall_deadline - wall_now, WallTime::duration{})),
                               wall_deadline};
    }
    std::erase_if(drains, [&](const auto& entry) {
        return !entry.second.whole_tenant && !next.releases.contains(entry.first);
    });
    publish(std::move(next), std::move(drains));
}

void RuntimeControl::drain_tenants(
    const std::vector<std::pair<std::string, config::Duration>>& removed,
    const std::vector<std::string>& returned, WallTime wall_now, Clock::time_point now) {
    if (removed.empty() && returned.empty()) return;
    Drains drains = runtime_->drains;
    for (const auto& [tenant, timeout] : removed)
        drains.insert_or_assign(
            tenant, Drain{config::Color::blue, true, now + timeout, wall_now + timeout});
    // A tenant added again under its old name: its new connections must not be cut.
    for (const auto& tenant : returned) drains.erase(tenant);
    publish(runtime_->state, std::move(drains));
}

void RuntimeControl::end_drain(std::string_view tenant) {
    Drains drains = runtime_->drains;
    const auto found = drains.find(tenant);
    if (found == drains.end()) return;
    drains.erase(found);
    publish(runtime_->state, std::move(drains));
}

void RuntimeControl::publish(RuntimeState state, Drains drains) {
    runtime_ = std::make_shared<const Runtime>(Runtime{std::move(state), std::move(drains)});
}

}  // namespace tg::proxy
