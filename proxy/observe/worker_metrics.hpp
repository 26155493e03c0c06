#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tg::proxy {

/// Whether requests record metrics. Off only in the build that measures what recording costs
/// (bench/metrics_cost.sh: cmake -DTG_RECORD_METRICS=OFF), never in a binary that is run.
#ifdef TG_NO_METRICS_RECORDING
inline constexpr bool record_metrics = false;
#else
inline constexpr bool record_metrics = true;
#endif

/// A counter with one writer (its worker thread) and a reader at scrape time. The relaxed load
/// and store compile to plain moves: no locked instruction on the request path.
class LocalCounter {
  public:
    void add(std::uint64_t n = 1) {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> value_{0};
};

/// A gauge with one writer; summed over workers at scrape time.
class LocalGauge {
  public:
    void add(std::int64_t n) {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(std::int64_t n) { value_.store(n, std::memory_order_relaxed); }
    std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::int64_t> value_{0};
};

/// Upper bounds of request_duration_seconds: 0.5 ms to 60 s, for proxy latencies; the
/// longpolling route's long tail is told apart by its route label.
inline constexpr std::array<double, 16> latency_buckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

/// Status codes counted under their own label; others are counted as their class ("5xx").
inline constexpr std::array<unsigned, 32> tracked_statuses = {
    101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404,
    405, 408, 409, 412, 413, 415, 422, 429, 431, 499, 500, 501, 502, 503, 504, 505};
inline constexpr std::size_t status_slots = tracked_statuses.size() + 5;  ///< + 1xx..5xx

/// The label of status slot `slot` ("404", or "5xx" for an untracked code).
std::string status_label(std::size_t slot);
/// The slot counting `status`.
std::size_t status_slot(unsigned status);

/// One tenant's series for one route.
struct RouteSeries {
    std::array<LocalCounter, status_slots> requests;
    std::array<LocalCounter, latency_buckets.size() + 1> duration_buckets;  ///< not cumulative
    LocalCounter duration_count;
    LocalCounter duration_sum_ns;
};

struct TenantSeries {
    std::array<RouteSeries, 2> routes;  ///< indexed by routing::Route
    LocalGauge in_flight;
    LocalGauge tunnels;
    LocalGauge draining;  ///< connections left on the colour a release drains, set by the sweep
    std::array<LocalCounter, 3> rate_limited;  ///< by LimitReason
};

/// Counters under two label values (pool and reason, listener and reason), created on first use
/// under the owner's mutex; counting an existing one takes no lock.
class CounterTable {
  public:
    void add(std::string_view first, std::string_view second, std::mutex& mutex);
    /// Calls f(first, second, count); the caller holds the owner's mutex.
    template <class F>
    void for_each(F f) const {
        for (const auto& [first, seconds] : counters_)
            for (const auto& [second, counter] : seconds) f(first, second, counter->value());
    }

  private:
    using Inner = std::map<std::string, std::unique_ptr<LocalCounter>, std::less<>>;
    std::map<std::string, Inner, std::less<>> counters_;
};

/// One worker's metrics. The worker writes; the scraper reads under mutex_, which the worker
/// takes only to add a series (a tenant's first request), never per request.
class WorkerMetrics {
  public:
    /// Tenants named by templates beyond this many share the series "_other": hosts are
    /// client-controlled, and an unbounded label set would take the Prometheus server down.
    static constexpr std::size_t max_template_tenants = 1000;

    explicit WorkerMetrics(std::size_t listeners);

    /// The series of `tenant` (empty: requests that matched no tenant). Worker thread.
    TenantSeries& tenant(std::string_view tenant, bool from_template);
    void request_finished(TenantSeries& series, std::size_t route, unsigned status, double seconds);
    void upstream_error(std::string_view pool, std::string_view reason) {
        upstream_errors_.add(pool, reason, mutex_);
    }
    void tls_handshake_failure(std::string_view listener, std::string_view reason) {
        tls_handshake_failures_.add(listener, reason, mutex_);
    }
    LocalGauge& connections(std::size_t listener) { return connections_[listener]; }

    /// Calls f(name, series) for every tenant, under the lock. Scraper thread.
    template <class F>
    void for_each_tenant(F f) const {
        std::lock_guard lock(mutex_);
        for (const auto& [name, series] : tenants_) f(name, *series);
    }
    /// Calls f(pool, reason, count). Scraper thread.
    template <class F>
    void for_each_upstream_error(F f) const {
        std::lock_guard lock(mutex_);
        upstream_errors_.for_each(f);
    }
    /// Calls f(listener, reason, count). Scraper thread.
    template <class F>
    void for_each_tls_handshake_failure(F f) const {
        std::lock_guard lock(mutex_);
        tls_handshake_failures_.for_each(f);
    }
    std::int64_t connections_value(std::size_t listener) const {
        return connections_[listener].value();
    }
    std::size_t listener_count() const { return listener_count_; }

  private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::unique_ptr<TenantSeries>, StringHash, std::equal_to<>>
        tenants_;
    std::size_t template_tenants_ = 0;
    CounterTable upstream_errors_;         ///< pool, reason
    CounterTable tls_handshake_failures_;  ///< listener, reason
    std::size_t listener_count_;
    std::unique_ptr<LocalGauge[]> connections_;
};

}  // namespace tg::proxy
