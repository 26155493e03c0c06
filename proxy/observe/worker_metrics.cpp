#include "proxy/observe/worker_metrics.hpp"

#include <algorithm>
#include <cmath>

namespace tg::proxy {

std::string status_label(std::size_t slot) {
    if (slot < tracked_statuses.size()) return std::to_string(tracked_statuses[slot]);
    return std::to_string(slot - tracked_statuses.size() + 1) + "xx";
}

std::size_t status_slot(unsigned status) {
    const auto found = std::lower_bound(tracked_statuses.begin(), tracked_statuses.end(), status);
    if (found != tracked_statuses.end() && *found == status)
        return static_cast<std::size_t>(found - tracked_statuses.begin());
    const unsigned status_class = std::clamp(status / 100, 1u, 5u);
    return tracked_statuses.size() + status_class - 1;
}

WorkerMetrics::WorkerMetrics(std::size_t listeners)
    : listener_count_(listeners), connections_(std::make_unique<LocalGauge[]>(listeners)) {}

TenantSeries& WorkerMetrics::tenant(std::string_view tenant, bool from_template) {
    if (const auto found = tenants_.find(tenant); found != tenants_.end()) return *found->second;
    std::lock_guard lock(mutex_);
    if (from_template) {
        if (template_tenants_ >= max_template_tenants) {
            auto& other = tenants_["_other"];
            if (!other) other = std::make_unique<TenantSeries>();
            return *other;
        }
        ++template_tenants_;
    }
    auto& series = tenants_[std::string(tenant)];
    series = std::make_unique<TenantSeries>();
    return *series;
}

void WorkerMetrics::request_finished(TenantSeries& series, std::size_t route, unsigned status,
                                     double seconds) {
    auto& r = series.routes[route];
    r.requests[status_slot(status)].add();
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(latency_buckets.begin(), latency_buckets.end(), seconds) -
        latency_buckets.begin());
    r.duration_buckets[bucket].add();
    r.duration_count.add();
    r.duration_sum_ns.add(static_cast<std::uint64_t>(std::llround(seconds * 1e9)));
}

void CounterTable::add(std::string_view first, std::string_view second, std::mutex& mutex) {
    if (const auto outer = counters_.find(first); outer != counters_.end()) {
        if (const auto found = outer->second.find(second); found != outer->second.end()) {
            found->second->add();
            return;
        }
    }
    std::lock_guard lock(mutex);
    auto& counter = counters_[std::string(first)][std::string(second)];
    counter = std::make_unique<LocalCounter>();
    counter->add();
}

}  // namespace tg::proxy
