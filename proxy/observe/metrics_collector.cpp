#include "proxy/observe/metrics_collector.hpp"

#include <prometheus/text_serializer.h>

#include <map>
#include <tuple>

#include "proxy/limits/limiter.hpp"
#include "proxy/state/budget_sync.hpp"
#include "proxy/state/state_sync.hpp"
#include "proxy/upstream/health_board.hpp"
#include "routing/release.hpp"
#include "routing/route_rule.hpp"

namespace tg::proxy {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::array<routing::Route, 2> routes = {routing::Route::web, routing::Route::longpolling};

/// Sums of one tenant over all workers.
struct TenantTotals {
    std::array<std::array<std::uint64_t, status_slots>, 2> requests{};
    std::array<std::array<std::uint64_t, latency_buckets.size() + 1>, 2> buckets{};
    std::array<std::uint64_t, 2> count{};
    std::array<std::uint64_t, 2> sum_ns{};
    std::int64_t in_flight = 0;
    std::int64_t tunnels = 0;
    std::int64_t draining = 0;
    std::array<std::uint64_t, limit_reasons> rate_limited{};
};

MetricFamily family(std::string name, std::string help, MetricType type) {
    MetricFamily f;
    f.name = "tenantgate_" + std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

ClientMetric labelled(std::vector<ClientMetric::Label> labels) {
    ClientMetric m;
    m.label = std::move(labels);
    return m;
}

}  // namespace

MetricsCollector::MetricsCollector(std::vector<const WorkerMetrics*> workers,
                                   std::vector<std::string> listeners, const ServerState& state)
    : workers_(std::move(workers)), listeners_(std::move(listeners)), state_(state) {}

std::vector<MetricFamily> MetricsCollector::Collect() const {
    std::map<std::string, TenantTotals> tenants;
    std::map<std::pair<std::string, std::string>, std::uint64_t> upstream_errors;
    std::map<std::pair<std::string, std::string>, std::uint64_t> handshake_failures;
    std::vector<std::int64_t> connections(listeners_.size(), 0);
    for (const auto* worker : workers_) {
        worker->for_each_tenant([&](const std::string& name, const TenantSeries& series) {
            auto& totals = tenants[name];
            for (std::size_t r = 0; r < routes.size(); ++r) {
                const auto& route = series.routes[r];
                for (std::size_t s = 0; s < status_slots; ++s)
                    totals.requests[r][s] += route.requests[s].value();
                for (std::size_t b = 0; b < route.duration_buckets.size(); ++b)
                    totals.buckets[r][b] += route.duration_buckets[b].value();
                totals.count[r] += route.duration_count.value();
                totals.sum_ns[r] += route.duration_sum_ns.value();
            }
            totals.in_flight += series.in_flight.value();
            totals.tunnels += series.tunnels.value();
            totals.draining += series.draining.value();
            for (std::size_t r = 0; r < limit_reasons; ++r)
                totals.rate_limited[r] += series.rate_limited[r].value();
        });
        worker->for_each_upstream_error(
            [&](const std::string& pool, const std::string& reason, std::uint64_t n) {
                upstream_errors[{pool, reason}] += n;
            });
        worker->for_each_tls_handshake_failure(
            [&](const std::string& listener, const std::string& reason, std::uint64_t n) {
                handshake_failures[{listener, reason}] += n;
            });
        for (std::size_t l = 0; l < connections.size() && l < worker->listener_count(); ++l)
            connections[l] += worker->connections_value(l);
    }

    auto requests = family("requests_total", "Requests answered, by tenant, route and status code.",
                           MetricType::Counter);
    auto durations = family("request_duration_seconds",
                            "Time from a request's first byte to its last response byte.",
                            MetricType::Histogram);
    auto in_flight =
        family("in_flight_requests", "Requests being forwarded upstream now.", MetricType::Gauge);
    auto tunnels = family("tunnels_active", "Open WebSocket tunnels.", MetricType::Gauge);
    auto limited = family("rate_limited_total",
                          "Requests refused with 429, by tenant and the limit that refused them.",
                          MetricType::Counter);
    for (const auto& [name, totals] : tenants) {
        for (std::size_t r = 0; r < routes.size(); ++r) {
            const std::string route(routing::route_name(routes[r]));
            for (std::size_t s = 0; s < status_slots; ++s) {
                if (totals.requests[r][s] == 0) continue;
                auto m = labelled({{"code", status_label(s)}, {"route", route}, {"tenant", name}});
                m.counter.value = static_cast<double>(totals.requests[r][s]);
                requests.metric.push_back(std::move(m));
            }
            if (totals.count[r] == 0) continue;
            auto m = labelled({{"route", route}, {"tenant", name}});
            m.histogram.sample_count = totals.count[r];
            m.histogram.sample_sum = static_cast<double>(totals.sum_ns[r]) / 1e9;
            std::uint64_t cumulative = 0;
            for (std::size_t b = 0; b < latency_buckets.size(); ++b) {
                cumulative += totals.buckets[r][b];
                m.histogram.bucket.push_back({cumulative, latency_buckets[b]});
            }
            m.histogram.bucket.push_back(
                {totals.count[r], std::numeric_limits<double>::infinity()});
            durations.metric.push_back(std::move(m));
        }
        auto flight = labelled({{"tenant", name}});
        flight.gauge.value = static_cast<double>(totals.in_flight);
        in_flight.metric.push_back(std::move(flight));
        auto tunnel = labelled({{"tenant", name}});
        tunnel.gauge.value = static_cast<double>(totals.tunnels);
        tunnels.metric.push_back(std::move(tunnel));
        for (std::size_t r = 0; r < limit_reasons; ++r) {
            if (totals.rate_limited[r] == 0) continue;
            auto m =
                labelled({{"reason", std::string(limit_reason_name(static_cast<LimitReason>(r)))},
                          {"tenant", name}});
            m.counter.value = static_cast<double>(totals.rate_limited[r]);
            limited.metric.push_back(std::move(m));
        }
    }

    auto errors = family("upstream_errors_total", "Failed upstream exchanges, by pool and reason.",
                         MetricType::Counter);
    for (const auto& [key, n] : upstream_errors) {
        auto m = labelled({{"pool", key.first}, {"reason", key.second}});
        m.counter.value = static_cast<double>(n);
        errors.metric.push_back(std::move(m));
    }
    auto handshakes =
        family("tls_handshake_failures_total",
               "TLS handshakes that failed, by listener and reason.", MetricType::Counter);
    for (const auto& [key, n] : handshake_failures) {
        auto m = labelled({{"listener", key.first}, {"reason", key.second}});
        m.counter.value = static_cast<double>(n);
        handshakes.metric.push_back(std::move(m));
    }
    auto expiry =
        family("tls_certificate_expiry_timestamp_seconds",
               "When each configured certificate expires (Unix time).", MetricType::Gauge);
    for (const auto& certificate : state_.certificates) {
        auto m = labelled({{"cert", certificate.cert_file}});
        m.gauge.value =
            std::chrono::duration<double>(certificate.not_after.time_since_epoch()).count();
        expiry.metric.push_back(std::move(m));
    }
    auto active =
        family("connections_active", "Open client connections, by listener.", MetricType::Gauge);
    for (std::size_t l = 0; l < listeners_.size(); ++l) {
        auto m = labelled({{"listener", listeners_[l]}});
        m.gauge.value = static_cast<double>(connections[l]);
        active.metric.push_back(std::move(m));
    }
    auto generation =
        family("config_generation", "The config generation being served.", MetricType::Gauge);
    generation.metric.push_back({});
    generation.metric.back().gauge.value = static_cast<double>(state_.config_generation);
    auto reloads =
        family("config_reloads_total", "Config reloads, by result.", MetricType::Counter);
    for (const auto& [result, n] : {std::pair{"success", state_.reloads_succeeded},
                                    std::pair{"failure", state_.reloads_failed}}) {
        auto m = labelled({{"result", result}});
        m.counter.value = static_cast<double>(n);
        reloads.metric.push_back(std::move(m));
    }
    auto redis = family("redis_up",
                        "1 while Redis answers the budget and state sync (absent without Redis).",
                        MetricType::Gauge);
    if (state_.budget_sync && state_.state_sync) {
        redis.metric.push_back({});
        redis.metric.back().gauge.value =
            state_.budget_sync->up() && state_.state_sync->up() ? 1 : 0;
    }
    auto maintenance =
        family("maintenance_enabled", "1 while maintenance mode answers 503 (tenant=\"\": global).",
               MetricType::Gauge);
    auto colors = family("release_active_color",
                         "1 for the colour a release tenant's new requests go to, 0 for the other.",
                         MetricType::Gauge);
    auto draining =
        family("release_draining_connections",
               "Connections left on the colour a release is draining.", MetricType::Gauge);
    if (state_.generation) {
        const Runtime& runtime = state_.generation->runtime();
        auto global = labelled({{"tenant", ""}});
        global.gauge.value = runtime.state.global_maintenance.enabled ? 1 : 0;
        maintenance.metric.push_back(std::move(global));
        for (const auto& [name, tenant] : state_.generation->config().tenants) {
            const auto found = runtime.state.tenant_maintenance.find(name);
            auto m = labelled({{"tenant", name}});
            m.gauge.value =
                found != runtime.state.tenant_maintenance.end() && found->second.enabled ? 1 : 0;
            maintenance.metric.push_back(std::move(m));
            const auto& release = tenant->policy.release;
            if (!release) continue;
            const auto switched = runtime.state.releases.find(name);
            const auto active = switched == runtime.state.releases.end() ? release->active
                                                                         : switched->second.active;
            for (const auto color : {config::Color::blue, config::Color::green}) {
                auto c = labelled(
                    {{"color", std::string(routing::color_name(color))}, {"tenant", name}});
                c.gauge.value = color == active ? 1 : 0;
                colors.metric.push_back(std::move(c));
            }
            const auto totals = tenants.find(name);
            auto d = labelled({{"tenant", name}});
            d.gauge.value =
                totals == tenants.end() ? 0 : static_cast<double>(totals->second.draining);
            draining.metric.push_back(std::move(d));
        }
    }
    std::vector<MetricFamily> families;
    for (auto* f :
         {&requests, &durations, &in_flight, &tunnels, &limited, &errors, &handshakes, &expiry,
          &active, &generation, &reloads, &redis, &maintenance, &colors, &draining})
        if (!f->metric.empty()) families.push_back(std::move(*f));
    if (state_.generation) append_endpoint_up(state_.generation->health(), families);
    return families;
}

std::string render_metrics(const prometheus::Collectable& collector) {
    return prometheus::TextSerializer().Serialize(collector.Collect());
}

}  // namespace tg::proxy
