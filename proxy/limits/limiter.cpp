#include "proxy/limits/limiter.hpp"

namespace tg::proxy {
namespace {

using std::chrono::nanoseconds;
using namespace std::chrono_literals;

/// A full in-flight limit frees a slot as soon as any request ends: "come back in a second".
constexpr nanoseconds in_flight_retry = 1s;

}  // namespace

std::string_view limit_reason_name(LimitReason reason) {
    switch (reason) {
        case LimitReason::tenant:
            return "tenant";
        case LimitReason::client:
            return "client";
        case LimitReason::in_flight:
            return "in_flight";
    }
    return "tenant";
}

void set_cost(TenantBudget& budget, std::uint32_t cost_milli, nanoseconds now) {
    const auto old_cost = budget.cost_milli.exchange(cost_milli, std::memory_order_relaxed);
    if (old_cost == cost_milli) return;
    auto tat = budget.tat_ns.load(std::memory_order_relaxed);
    while (!budget.tat_ns.compare_exchange_weak(
        tat, routing::gcra_rescale(nanoseconds(tat), now, old_cost, cost_milli).count(),
        std::memory_order_relaxed)) {
    }
}

void InFlightTicket::release() {
    if (budget_) budget_->fetch_sub(1, std::memory_order_relaxed);
    if (table_) table_->leave(key_);
    budget_ = nullptr;
    table_ = nullptr;
}

Limiter::Limiter(std::uint64_t seed)
    : keys_(seed), clients_(client_slots_log2), templates_(template_slots_log2) {}

std::shared_ptr<TenantBudget> Limiter::budget_for(std::string_view name) {
    std::lock_guard lock(mutex_);
    for (int looked = 0; looked < 2 && !budgets_.empty(); ++looked) {
        if (sweep_ == budgets_.end()) sweep_ = budgets_.begin();
        sweep_ = sweep_->second.expired() ? budgets_.erase(sweep_) : std::next(sweep_);
    }
    auto found = budgets_.find(name);
    if (found != budgets_.end())
        if (auto budget = found->second.lock()) return budget;
    auto budget = std::make_shared<TenantBudget>();
    if (found != budgets_.end())
        found->second = budget;
    else
        budgets_.emplace(name, budget);
    return budget;
}

std::optional<LimitRefusal> Limiter::admit(const routing::TenantMatch& tenant, TenantBudget* budget,
                                           const config::IpAddress* client, nanoseconds now,
                                           InFlightTicket& ticket) {
    const auto& policy = *tenant.policy;
    const bool counting = budget && counting_.load(std::memory_order_relaxed);
    if (counting) budget->attempts.fetch_add(1, std::memory_order_relaxed);

    std::uint64_t client_key = 0;
    std::optional<routing::GcraRate> client_rate;
    if (policy.per_client_rate_limit && client) {
        client_rate = routing::gcra_rate(*policy.per_client_rate_limit);
        client_key = keys_.client(tenant.name, *client);
        const auto step =
            clients_.admit(client_key, now, client_rate->interval, client_rate->capacity);
        if (!step.allowed) return LimitRefusal{LimitReason::client, step.retry_after};
    }
    const auto refund_client = [&] {
        if (client_rate) clients_.refund(client_key, client_rate->interval);
    };

    nanoseconds charged{0};
    if (policy.rate_limit) {
        const auto rate = routing::gcra_rate(*policy.rate_limit);
        if (auto refusal = charge_tenant(tenant, budget, rate, now, charged)) {
            refund_client();
            return refusal;
        }
    }
    if (policy.max_in_flight != 0 && !enter(tenant, budget, now, ticket)) {
        refund_client();
        refund_tenant(tenant, budget, charged);
        return LimitRefusal{LimitReason::in_flight, in_flight_retry};
    }
    if (counting && policy.rate_limit) budget->admitted.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
}

std::optional<LimitRefusal> Limiter::charge_tenant(const routing::TenantMatch& tenant,
                                                   TenantBudget* budget,
                                                   const routing::GcraRate& rate, nanoseconds now,
                                                   nanoseconds& charged) {
    if (budget) {
        switch (mode()) {
            case BudgetMode::open:
                return std::nullopt;
            case BudgetMode::closed:
                return LimitRefusal{LimitReason::tenant, 1s};
            case BudgetMode::enforce:
                break;
        }
        const auto increment = routing::gcra_scaled_increment(
            rate, budget->cost_milli.load(std::memory_order_relaxed));
        auto tat = budget->tat_ns.load(std::memory_order_relaxed);
        for (;;) {
            const auto step = routing::gcra_step(nanoseconds(tat), now, increment, rate.capacity);
            if (!step.allowed) return LimitRefusal{LimitReason::tenant, step.retry_after};
            if (budget->tat_ns.compare_exchange_weak(tat, step.tat.count(),
                                                     std::memory_order_relaxed)) {
                charged = increment;
                return std::nullopt;
            }
        }
    }
    const auto step =
        templates_.admit(keys_.tenant(tenant.name), now, rate.interval, rate.capacity);
    if (!step.allowed) return LimitRefusal{LimitReason::tenant, step.retry_after};
    charged = rate.interval;
    return std::nullopt;
}

void Limiter::refund_tenant(const routing::TenantMatch& tenant, TenantBudget* budget,
                            nanoseconds charged) {
    if (charged.count() == 0) return;
    if (budget)
        budget->tat_ns.fetch_sub(charged.count(), std::memory_order_relaxed);
    else
        templates_.refund(keys_.tenant(tenant.name), charged);
}

bool Limiter::enter(const routing::TenantMatch& tenant, TenantBudget* budget, nanoseconds now,
                    InFlightTicket& ticket) {
    const std::uint32_t limit = tenant.policy->max_in_flight;
    if (budget) {
        auto current = budget->in_flight.load(std::memory_order_relaxed);
        do {
            if (current >= limit) return false;
        } while (!budget->in_flight.compare_exchange_weak(current, current + 1,
                                                          std::memory_order_relaxed));
        ticket.budget_ = &budget->in_flight;
        return true;
    }
    const auto key = keys_.tenant(tenant.name);
    const auto entered = templates_.enter(key, now, limit);
    if (!entered) return true;  // a window full of busy tenants: admitted untracked
    if (!*entered) return false;
    ticket.table_ = &templates_;
    ticket.key_ = key;
    return true;
}

}  // namespace tg::proxy
