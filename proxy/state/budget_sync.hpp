#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config/snapshot.hpp"
#include "proxy/generation.hpp"
#include "proxy/io.hpp"
#include "proxy/state/redis_client.hpp"

namespace tg::proxy {

/// Shares the named tenants' budgets between replicas through Redis (SPEC §4) with no Redis
/// call on the request path. Every `interval` the control thread sends, in one script call,
/// what each tenant admitted and attempted here since the last round; Redis adds the admitted
/// requests to the tenant's cluster bucket (a TAT on Redis' clock) and returns how far that
/// bucket runs ahead, this replica's share of the budget (following its part of the recent
/// demand, granted so that the shares of live replicas never add up to more than one) and the
/// number of live replicas. The replica then charges each local request 1/share of a token (so
/// replicas together admit one budget), keeping what it already admitted charged when its share
/// changes, and never keeps free more than the cluster bucket has left.
/// While Redis is gone, `rate_limit_on_redis_failure` decides, and it reconnects with back-off.
class BudgetSync {
  public:
    using CurrentGeneration = std::function<std::shared_ptr<const Generation>()>;

    BudgetSync(asio::io_context& control, RedisAddress address, const config::State& state,
               Limiter& limiter, CurrentGeneration current, std::string replica_id);

    /// The reconciling loop; runs until `stop`.
    asio::awaitable<void> run();
    void stop();
    /// 1 while Redis answers (the redis_up gauge).
    [[nodiscard]] bool up() const { return up_; }
    /// Live replicas sharing the budgets, as Redis last said (1 before it ever answered).
    [[nodiscard]] std::uint64_t replicas() const { return replicas_; }
    /// Where Redis is, password masked.
    const RedisAddress& address() const { return redis_.address(); }

    static constexpr Clock::duration interval = std::chrono::milliseconds(100);

  private:
    /// What this replica last reported of one tenant.
    struct Reported {
        std::uint64_t admitted = 0;
        std::uint64_t attempts = 0;
    };

    asio::awaitable<bool> reconcile();
    void went_down(std::string_view reason);
    void apply_failure_policy();

    RedisClient redis_;
    std::string key_prefix_;
    config::RedisFailurePolicy on_failure_;
    Limiter& limiter_;
    CurrentGeneration current_;
    std::string replica_id_;
    asio::steady_timer timer_;
    bool up_ = false;
    bool ever_up_ = false;
    bool stopped_ = false;
    std::uint64_t replicas_ = 1;  ///< live replicas last seen, for the local share
    std::map<std::string, Reported, std::less<>> reported_;
};

}  // namespace tg::proxy
