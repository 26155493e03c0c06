#include "proxy/upstream/health_board.hpp"

#include <prometheus/metric_family.h>

#include <utility>

namespace tg::proxy {

std::size_t HealthBoard::add_pool(std::string name, const ResolvedPool& pool) {
    Pool board_pool;
    board_pool.name = std::move(name);
    board_pool.checked = pool.config != nullptr && pool.config->health_check.has_value();
    // One flag per distinct address: a pod listed in both lists is one endpoint to check.
    const auto slot_of = [&](const ResolvedEndpoint& endpoint) {
        auto& known = board_pool.endpoints;
        const auto found = std::find_if(known.begin(), known.end(), [&](const auto& e) {
            return e.address == endpoint.address;
        });
        if (found != known.end()) return static_cast<std::uint32_t>(found - known.begin());
        known.push_back({endpoint.address, endpoint.label});
        return static_cast<std::uint32_t>(known.size() - 1);
    };
    for (const auto& endpoint : pool.web) board_pool.web.push_back(slot_of(endpoint));
    for (const auto& endpoint : pool.longpolling)
        board_pool.longpolling.push_back(slot_of(endpoint));
    const std::size_t count = board_pool.endpoints.size();
    board_pool.up = std::make_unique<std::atomic<bool>[]>(count);
    for (std::size_t e = 0; e < count; ++e) board_pool.up[e].store(true, std::memory_order_relaxed);
    pools_.push_back(std::move(board_pool));
    return pools_.size() - 1;
}

void HealthBoard::carry_over(const HealthBoard& previous) {
    for (auto& pool : pools_) {
        if (!pool.checked) continue;
        const Pool* before = previous.find(pool.name);
        if (before == nullptr || !before->checked) continue;
        for (std::size_t e = 0; e < pool.endpoints.size(); ++e) {
            const auto& address = pool.endpoints[e].address;
            const auto found =
                std::find_if(before->endpoints.begin(), before->endpoints.end(),
                             [&](const auto& old) { return old.address == address; });
            if (found == before->endpoints.end()) continue;
            const auto index = static_cast<std::size_t>(found - before->endpoints.begin());
            pool.up[e].store(before->up[index].load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
        }
    }
}

const HealthBoard::Pool* HealthBoard::find(std::string_view pool) const {
    const auto found =
        std::find_if(pools_.begin(), pools_.end(), [&](const Pool& p) { return p.name == pool; });
    return found == pools_.end() ? nullptr : &*found;
}

const std::atomic<bool>* HealthBoard::flag(std::string_view pool,
                                           const tcp::endpoint& address) const {
    const Pool* p = find(pool);
    if (p == nullptr) return nullptr;
    for (std::size_t e = 0; e < p->endpoints.size(); ++e)
        if (p->endpoints[e].address == address) return &p->up[e];
    return nullptr;
}

std::atomic<bool>* HealthBoard::flag(std::string_view pool, const tcp::endpoint& address) {
    // The board owns its flags; the const overload only finds them.
    return const_cast<std::atomic<bool>*>(std::as_const(*this).flag(pool, address));
}

void append_endpoint_up(const HealthBoard& board, std::vector<prometheus::MetricFamily>& families) {
    prometheus::MetricFamily family;
    family.name = "tenantgate_upstream_endpoint_up";
    family.help =
        "1 while the endpoint passes its pool's active health check (always 1 for pools "
        "without health_check), 0 once it failed fall checks in a row.";
    family.type = prometheus::MetricType::Gauge;
    board.for_each([&](std::string_view pool, std::string_view endpoint, bool up) {
        prometheus::ClientMetric metric;
        metric.label = {{"endpoint", std::string(endpoint)}, {"pool", std::string(pool)}};
        metric.gauge.value = up ? 1 : 0;
        family.metric.push_back(std::move(metric));
    });
    if (!family.metric.empty()) families.push_back(std::move(family));
}

}  // namespace tg::proxy
