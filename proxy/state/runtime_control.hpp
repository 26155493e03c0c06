#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/snapshot.hpp"
#include "proxy/io.hpp"
#include "proxy/state/runtime_state.hpp"

namespace tg::proxy {

/// A colour a release left, or a tenant that was removed, being drained on this replica: its
/// tunnels and parked long polls are closed at `deadline`, its requests under way finish.
struct Drain {
    config::Color color = config::Color::blue;
    bool whole_tenant = false;  ///< the tenant was removed: every colour drains
    Clock::time_point deadline = Clock::time_point::max();
    std::chrono::system_clock::time_point wall_deadline;  ///< the same instant, for the API
};

/// Drains under way, by tenant name.
using Drains = std::map<std::string, Drain, std::less<>>;

/// What the admin API has changed at run time, as the data path reads it: the state and this
/// replica's drains. Immutable once published; every change makes a new one.
struct Runtime {
    RuntimeState state;
    Drains drains;
};

/// The control thread's owner of the runtime state (SPEC §5): it turns admin calls and states
/// from other replicas into the next RuntimeState and the drains that follow from it. It does
/// no I/O and reads no clock: the server persists, publishes and shares what it decides.
class RuntimeControl {
  public:
    using WallTime = std::chrono::system_clock::time_point;

    RuntimeControl(std::string replica_id, RuntimeState initial);

    const RuntimeState& state() const { return runtime_->state; }
    /// What generations point to; replaced, never changed, by each change.
    const std::shared_ptr<const Runtime>& runtime() const { return runtime_; }

    /// The state after turning maintenance of `tenant` (nullopt: global) to `maintenance`.
    [[nodiscard]] RuntimeState with_maintenance(const std::optional<std::string>& tenant,
                                                const Maintenance& maintenance, WallTime now) const;
    /// The state after switching `tenant` from `from` to `to`, draining `from` for
    /// `drain_timeout`.
    [[nodiscard]] RuntimeState with_release(const std::string& tenant, config::Color from,
                                            config::Color to, config::Duration drain_timeout,
                                            WallTime now) const;
    /// The state after adding or replacing (`definition`: the tenants.NAME shape as compact
    /// JSON, not empty) or, with nullopt, removing the runtime tenant `tenant`, stamped with the
    /// change's version; a removed tenant stays as a tombstone and takes its maintenance (turned
    /// off) and release state along.
    [[nodiscard]] RuntimeState with_tenant(const std::string& tenant,
                                           std::optional<std::string> definition,
                                           WallTime now) const;
    /// The state without what belongs to tenants `snapshot` no longer has (or that no longer
    /// have a release); nullopt when nothing would change.
    [[nodiscard]] std::optional<RuntimeState> pruned_for(const config::Snapshot& snapshot,
                                                         WallTime now) const;

    /// Makes `next` current. A tenant whose switch is new starts draining the colour it left,
    /// until switched_at + drain_timeout (the same instant on every replica); a switch during
    /// a drain supersedes it. `wall_now` and `now` are the same instant on the two clocks.
    void apply(RuntimeState next, WallTime wall_now, Clock::time_point now);
    /// Tenants no longer served (`removed`, each with its drain timeout) drain every
    /// connection they have; tenants served again (`returned`) stop draining. One publish.
    void drain_tenants(const std::vector<std::pair<std::string, config::Duration>>& removed,
                       const std::vector<std::string>& returned, WallTime wall_now,
                       Clock::time_point now);
    /// The drain of `tenant` has no connection left: it is over.
    void end_drain(std::string_view tenant);

  private:
    /// A version after the current one and no earlier than `now`, so that the latest change
    /// wins on every replica.
    [[nodiscard]] std::uint64_t next_version(WallTime now) const;
    void publish(RuntimeState state, Drains drains);

    std::string replica_id_;
    std::shared_ptr<const Runtime> runtime_;
};

}  // namespace tg::proxy
