#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/snapshot.hpp"
#include "proxy/limits/tenant_budget.hpp"
#include "routing/bucket_table.hpp"
#include "routing/host_table.hpp"

namespace tg::proxy {

/// Which limit refused a request: the label of rate_limited_total's `reason`.
enum class LimitReason { tenant, client, in_flight };
inline constexpr std::size_t limit_reasons = 3;
std::string_view limit_reason_name(LimitReason reason);

/// A 429 to answer: why, and when to come back.
struct LimitRefusal {
    LimitReason reason;
    std::chrono::nanoseconds retry_after;
};

/// How the tenant budgets are enforced right now: alone, or as this replica's share of a
/// budget shared through Redis. While Redis is unreachable `rate_limit_on_redis_failure`
/// decides: `local` keeps enforcing shares, `open` stops enforcing tenant budgets, `closed`
/// refuses every request of a tenant with a budget.
enum class BudgetMode : std::uint8_t { enforce, open, closed };

class Limiter;

/// Makes each request of `budget` cost `cost_milli` thousandths of its interval from `now` on
/// (the inverse of this replica's share of a cluster budget), keeping charged what it already
/// admitted (routing::gcra_rescale). Requests racing with it are charged either cost.
void set_cost(TenantBudget& budget, std::uint32_t cost_milli, std::chrono::nanoseconds now);

/// One request's slot under its tenant's max_in_flight, given back when it ends, whatever way.
class InFlightTicket {
  public:
    InFlightTicket() = default;
    InFlightTicket(const InFlightTicket&) = delete;
    InFlightTicket& operator=(const InFlightTicket&) = delete;
    ~InFlightTicket() { release(); }

    void release();
    [[nodiscard]] bool held() const { return budget_ || table_; }

  private:
    friend class Limiter;
    std::atomic<std::uint32_t>* budget_ = nullptr;  ///< a named tenant's counter
    routing::BucketTable* table_ = nullptr;         ///< or a template tenant's slot
    std::uint64_t key_ = 0;
};

/// The process-wide enforcement of SPEC §4: tenant buckets, per-client buckets and in-flight
/// counts, checked in that order and shared by all workers. It outlives config generations: a
/// reload changes the limits, never the state (a reload is not a way to reset a budget).
class Limiter {
  public:
    /// Client-table slots: 2^20 of 24 bytes, 24 MiB at most whatever the number of clients.
    static constexpr unsigned client_slots_log2 = 20;
    /// Template-tenant slots: 2^16, 1.5 MiB.
    static constexpr unsigned template_slots_log2 = 16;

    explicit Limiter(std::uint64_t seed);

    /// The budget of the named tenant `name`: the same object as long as a generation serving
    /// that name holds it, so reloads and runtime changes keep a tenant's state. Any thread.
    std::shared_ptr<TenantBudget> budget_for(std::string_view name);

    /// The request's verdict at `now` (steady clock). `budget` is the named tenant's (null for
    /// a template tenant); `client` is needed only when the tenant has a per-client limit.
    /// On admission with a max_in_flight, `ticket` holds the slot. A request refused by a later
    /// check gets back what earlier ones charged.
    std::optional<LimitRefusal> admit(const routing::TenantMatch& tenant, TenantBudget* budget,
                                      const config::IpAddress* client, std::chrono::nanoseconds now,
                                      InFlightTicket& ticket);

    void set_mode(BudgetMode mode) { mode_.store(mode, std::memory_order_relaxed); }
    [[nodiscard]] BudgetMode mode() const { return mode_.load(std::memory_order_relaxed); }
    /// True once a Redis sync runs: then budgets count what they admit and attempt.
    void set_counting(bool counting) { counting_.store(counting, std::memory_order_relaxed); }

    /// Per-client buckets in use at `now` (not yet full again).
    [[nodiscard]] std::size_t clients_live(std::chrono::nanoseconds now) const {
        return clients_.live(now);
    }

  private:
    std::optional<LimitRefusal> charge_tenant(const routing::TenantMatch& tenant,
                                              TenantBudget* budget, const routing::GcraRate& rate,
                                              std::chrono::nanoseconds now,
                                              std::chrono::nanoseconds& charged);
    void refund_tenant(const routing::TenantMatch& tenant, TenantBudget* budget,
                       std::chrono::nanoseconds charged);
    bool enter(const routing::TenantMatch& tenant, TenantBudget* budget,
               std::chrono::nanoseconds now, InFlightTicket& ticket);

    routing::BucketKeys keys_;
    routing::BucketTable clients_;
    routing::BucketTable templates_;
    std::atomic<BudgetMode> mode_{BudgetMode::enforce};
    std::atomic<bool> counting_{false};
    std::mutex mutex_;
    std::map<std::string, std::weak_ptr<TenantBudget>, std::less<>> budgets_;
    /// Where the next look for budgets no generation holds any more goes on: each call of
    /// budget_for looks at two, so the names of removed tenants go without a pass over all.
    std::map<std::string, std::weak_ptr<TenantBudget>, std::less<>>::iterator sweep_ =
        budgets_.end();
};

}  // namespace tg::proxy
