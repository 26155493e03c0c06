#pragma once

#include <prometheus/collectable.h>

#include <string>
#include <vector>

#include "proxy/admin/admin_server.hpp"
#include "proxy/observe/worker_metrics.hpp"

namespace tg::proxy {

/// Merges every worker's metrics into Prometheus families at scrape time (SPEC §7 names), so
/// the request path only touches its own worker's counters.
class MetricsCollector : public prometheus::Collectable {
  public:
    MetricsCollector(std::vector<const WorkerMetrics*> workers, std::vector<std::string> listeners,
                     const ServerState& state);
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    std::vector<const WorkerMetrics*> workers_;
    std::vector<std::string> listeners_;
    const ServerState& state_;
};

/// The text exposition format 0.0.4 of `collector`'s families.
std::string render_metrics(const prometheus::Collectable& collector);

}  // namespace tg::proxy
