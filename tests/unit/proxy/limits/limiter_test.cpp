#include "proxy/limits/limiter.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using tg::config::IpAddress;
using tg::config::TenantPolicy;
using tg::proxy::BudgetMode;
using tg::proxy::InFlightTicket;
using tg::proxy::Limiter;
using tg::proxy::LimitReason;
using tg::proxy::TenantBudget;
using tg::routing::TenantMatch;

namespace {

IpAddress ip(std::uint8_t last) {
    IpAddress address;
    address.bytes = {192, 0, 2, last};
    return address;
}

/// The budgets of `names`, as a generation serving them holds them.
std::vector<std::shared_ptr<TenantBudget>> budgets_of(Limiter& limiter,
                                                      std::initializer_list<std::string> names) {
    std::vector<std::shared_ptr<TenantBudget>> budgets;
    for (const auto& name : names) budgets.push_back(limiter.budget_for(name));
    return budgets;
}

/// Admits requests at `now` until one is refused (at most 1000); returns how many passed.
int admit_all(Limiter& limiter, const TenantMatch& tenant, TenantBudget* budget,
              const IpAddress* client, nanoseconds now) {
    int admitted = 0;
    for (; admitted < 1000; ++admitted) {
        InFlightTicket ticket;
        if (limiter.admit(tenant, budget, client, now, ticket)) break;
    }
    return admitted;
}

}  // namespace

TEST_CASE("limiter: a tenant's budget is one bucket for all clients", "[proxy][limiter]") {
    TenantPolicy policy;
    policy.rate_limit = {{10, 4}};
    Limiter limiter(1);
    auto budgets = budgets_of(limiter, {"acme"});
    const TenantMatch acme{"acme", &policy, false, 0};
    const auto a = ip(1);
    const auto b = ip(2);
    CHECK(admit_all(limiter, acme, budgets[0].get(), &a, 1s) == 4);
    InFlightTicket ticket;
    const auto refused = limiter.admit(acme, budgets[0].get(), &b, 1s, ticket);
    REQUIRE(refused);
    CHECK(refused->reason == LimitReason::tenant);
    CHECK(refused->retry_after == 100ms);
}

TEST_CASE("limiter: workers on other threads share the tenant's bucket", "[proxy][limiter]") {
    TenantPolicy policy;
    policy.rate_limit = {{1, 1000}};
    Limiter limiter(1);
    auto budgets = budgets_of(limiter, {"acme"});
    const TenantMatch acme{"acme", &policy, false, 0};
    std::atomic<int> admitted{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w)
        workers.emplace_back([&] {
            for (int i = 0; i < 600; ++i) {
                InFlightTicket ticket;
                if (!limiter.admit(acme, budgets[0].get(), nullptr, 5s, ticket)) ++admitted;
            }
        });
    for (auto& worker : workers) worker.join();
    CHECK(admitted == 1000);
}

TEST_CASE("limiter: per-client buckets inside a tenant", "[proxy][limiter]") {
    TenantPolicy policy;
    policy.rate_limit = {{100, 10}};
    policy.per_client_rate_limit = {{1, 3}};
    Limiter limiter(1);
    auto budgets = budgets_of(limiter, {"acme"});
    const TenantMatch acme{"acme", &policy, false, 0};
    const auto a = ip(1);
    const auto b = ip(2);
    CHECK(admit_all(limiter, acme, budgets[0].get(), &a, 0s) == 3);
    InFlightTicket ticket;
    const auto refused = limiter.admit(acme, budgets[0].get(), &a, 0s, ticket);
    REQUIRE(refused);
    CHECK(refused->reason == LimitReason::client);
    CHECK(refused->retry_after == 1s);
    // Refusals by the client bucket cost the tenant nothing: 3 + 3 + 3 + 1 fit in 10.
    CHECK(admit_all(limiter, acme, budgets[0].get(), &b, 0s) == 3);
    const auto c = ip(3);
    const auto d = ip(4);
    CHECK(admit_all(limiter, acme, budgets[0].get(), &c, 0s) == 3);
    CHECK(admit_all(limiter, acme, budgets[0].get(), &d, 0s) == 1);
    const auto tenant_refusal = limiter.admit(acme, budgets[0].get(), &d, 0s, ticket);
    REQUIRE(tenant_refusal);
    CHECK(tenant_refusal->reason == LimitReason::tenant);
}

TEST_CASE("limiter: max_in_flight holds slots until tickets are released", "[proxy][limiter]") {
    TenantPolicy policy;
    policy.max_in_flight = 2;
    policy.rate_limit = {{1, 10}};
    Limiter limiter(1);
    auto budgets = budgets_of(limiter, {"acme"});
    auto* budget = budgets[0].get();
    const TenantMatch acme{"acme", &policy, false, 0};
    InFlightTicket first;
    InFlightTicket second;
    InFlightTicket third;
    CHECK_FALSE(limiter.admit(acme, budget, nullptr, 0s, first));
    CHECK_FALSE(limiter.admit(acme, budget, nullptr, 0s, second));
    const auto refused = limiter.admit(acme, budget, nullptr, 0s, third);
    REQUIRE(refused);
    CHECK(refused->reason == LimitReason::in_flight);
    CHECK(refused->retry_after == 1s);
    CHECK_FALSE(third.held());
    CHECK(budget->in_flight == 2);
    first.release();
    first.release();  // twice is once
    CHECK(budget->in_flight == 1);
    {
        InFlightTicket scoped;
        CHECK_FALSE(limiter.admit(acme, budget, nullptr, 0s, scoped));
    }
    CHECK(budget->in_flight == 1);
    second.release();
    CHECK(budget->in_flight == 0);
    // The in-flight refusal gave its rate token back: 10 - 3 admitted = 7 left.
    CHECK(admit_all(limiter, acme, budget, nullptr, 0s) == 7);
}

TEST_CASE("limiter: template tenants each get their own bucket and in-flight count",
          "[proxy][limiter]") {
    TenantPolicy policy;
    policy.rate_limit = {{10, 2}};
    policy.max_in_flight = 1;
    Limiter limiter(1);
    const TenantMatch alpha{"alpha", &policy, true, 0};
    const TenantMatch beta{"beta", &policy, true, 0};
    InFlightTicket held;
    CHECK_FALSE(limiter.admit(alpha, nullptr, nullptr, 0s, held));
    InFlightTicket other;
    const auto busy = limiter.admit(alpha, nullptr, nullptr, 0s, other);
    REQUIRE(busy);
    CHECK(busy->reason == LimitReason::in_flight);
    InFlightTicket beta_ticket;
    CHECK_FALSE(limiter.admit(beta, nullptr, nullptr, 0s, beta_ticket));
    held.release();
    CHECK_FALSE(limiter.admit(alpha, nullptr, nullptr, 0s, other));
    other.release();
    InFlightTicket third;
    const auto empty = limiter.admit(alpha, nullptr, nullptr, 0s, third);
    REQUIRE(empty);
    CHECK(empty->reason == LimitReason::tenant);
}

TEST_CASE("limiter: a reload keeps the budgets of tenants that remain", "[proxy][limiter]") {
    Limiter limiter(1);
    auto first = budgets_of(limiter, {"acme", "globex"});
    first[0]->tat_ns = 123;
    auto second = budgets_of(limiter, {"acme", "initech"});
    CHECK(second[0] == first[0]);
    CHECK(second[0]->tat_ns == 123);
    CHECK(second[1] != first[1]);
    // Once no generation holds globex, its budget goes, and a later globex starts afresh.
    first.clear();
    auto third = budgets_of(limiter, {"globex"});
    CHECK(third[0]->tat_ns == 0);
}

TEST_CASE("limiter: Redis failure modes decide for named tenant budgets", "[proxy][limiter]") {
    TenantPolicy policy;
    policy.rate_limit = {{1, 1}};
    Limiter limiter(1);
    auto budgets = budgets_of(limiter, {"acme"});
    const TenantMatch acme{"acme", &policy, false, 0};
    limiter.set_mode(BudgetMode::open);
    CHECK(admit_all(limiter, acme, budgets[0].get(), nullptr, 0s) == 1000);
    limiter.set_mode(BudgetMode::closed);
    CHECK(admit_all(limiter, acme, budgets[0].get(), nullptr, 10s) == 0);
    limiter.set_mode(BudgetMode::enforce);
    CHECK(admit_all(limiter, acme, budgets[0].get(), nullptr, 10s) == 1);
}

TEST_CASE("limiter: a share of a cluster budget costs more per request", "[proxy][limiter]") {
    TenantPolicy policy;
    policy.rate_limit = {{30, 30}};
    Limiter limiter(1);
    auto budgets = budgets_of(limiter, {"acme"});
    const TenantMatch acme{"acme", &policy, false, 0};
    budgets[0]->cost_milli = 3000;  // one replica of three
    limiter.set_counting(true);
    CHECK(admit_all(limiter, acme, budgets[0].get(), nullptr, 0s) == 10);
    CHECK(budgets[0]->admitted == 10);
    CHECK(budgets[0]->attempts == 11);
}

TEST_CASE("limiter: a changed share keeps what the replica already admitted", "[proxy][limiter]") {
    TenantPolicy policy;
    policy.rate_limit = {{30, 30}};
    Limiter limiter(1);
    auto budgets = budgets_of(limiter, {"acme"});
    const TenantMatch acme{"acme", &policy, false, 0};
    tg::proxy::set_cost(*budgets[0], 1000, 0s);  // alone before Redis answers
    int admitted = 0;
    for (; admitted < 6; ++admitted) {
        InFlightTicket ticket;
        REQUIRE_FALSE(limiter.admit(acme, budgets[0].get(), nullptr, 0s, ticket));
    }
    // Redis says a third: 4 more make its 10, whatever it admitted alone.
    tg::proxy::set_cost(*budgets[0], 3000, 0s);
    CHECK(budgets[0]->cost_milli == 3000);
    CHECK(admit_all(limiter, acme, budgets[0].get(), nullptr, 0s) == 4);
    // Then the whole budget: the 10 spent leave 20.
    tg::proxy::set_cost(*budgets[0], 1000, 0s);
    CHECK(admit_all(limiter, acme, budgets[0].get(), nullptr, 0s) == 20);
}
