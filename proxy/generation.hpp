#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/snapshot.hpp"
#include "proxy/io.hpp"
#include "proxy/limits/limiter.hpp"
#include "proxy/state/runtime_control.hpp"
#include "routing/host_table.hpp"
#include "tls/context_store.hpp"

namespace tg::proxy {

class HealthBoard;

/// One address of a pool, after DNS: a headless Kubernetes service name yields one per pod.
struct ResolvedEndpoint {
    tcp::endpoint address;
    std::string label;     ///< "10.1.0.11:8069", used in logs and metrics
    std::uint64_t id = 0;  ///< stable hash of the label, for rendezvous balancing
};

struct ResolvedPool {
    const config::Pool* config = nullptr;
    std::vector<ResolvedEndpoint> web;
    std::vector<ResolvedEndpoint> longpolling;  ///< empty: long-lived routes use `web`
    std::size_t health = 0;                     ///< the pool's index in Generation::health()
};

/// Certificate stores by listener index (null for plain listeners).
using TlsStores = std::vector<std::shared_ptr<const tls::CertificateStore>>;

/// DNS answers by host name; IP literals are never looked up.
using DnsAnswers = std::map<std::string, std::vector<asio::ip::address>, std::less<>>;

/// Everything a request reads, published to workers as one immutable object: the config, the
/// host table built from it and the pools with their current addresses. A request takes it once
/// and keeps it to the end, so it never sees two configs.
class Generation {
  public:
    /// `previous`, the generation this one replaces (null at start), lends its endpoints'
    /// health, so neither a reload nor a DNS change revives a dead endpoint. The tenants' budgets
    /// come from `limiter`, which outlives every generation and keeps them across reloads.
    /// `runtime` (maintenance, switched colours, drains) is applied over the config.
    /// `hosts` indexes `snapshot`'s tenants (built with it, see TenantMerger). Per-tenant tables
    /// are carried over from `previous` where its tenants' slots did not change, so a tenant
    /// added to 20,000 costs about what it changed.
    Generation(std::shared_ptr<const config::Snapshot> snapshot, routing::HostTable hosts,
               std::uint64_t number, const DnsAnswers& dns, TlsStores tls,
               const Generation* previous, Limiter& limiter,
               std::shared_ptr<const Runtime> runtime);
    ~Generation();

    const config::Snapshot& config() const { return *snapshot_; }
    const std::shared_ptr<const config::Snapshot>& snapshot() const { return snapshot_; }
    /// The config generation: 1 at start, +1 per successful reload.
    std::uint64_t number() const { return number_; }
    const routing::HostTable& hosts() const { return hosts_; }
    const ResolvedPool* pool(std::string_view name) const;
    /// The certificates of TLS listener `listener` (null for a plain listener).
    const std::shared_ptr<const tls::CertificateStore>& tls(std::size_t listener) const {
        return tls_[listener];
    }
    /// Distinct for every generation published, even with the same config number.
    std::uint64_t serial() const { return serial_; }
    /// True when `address` is an endpoint of a pool that serves new requests: connections to
    /// others (a pool gone with a reload, the colour a release left) are not reused.
    bool serves_endpoint(const tcp::endpoint& address) const;
    /// The maintenance that answers `tenant`'s requests (global first), or null.
    const Maintenance* maintenance(const routing::TenantMatch& tenant) const;
    /// The colour new requests of a release tenant go to (SPEC §5).
    config::Color active_color(const routing::TenantMatch& tenant) const;
    /// The pool new requests of `tenant` go to: its pool, or its active colour's.
    const std::string& active_pool(const routing::TenantMatch& tenant) const;
    const Runtime& runtime() const { return *runtime_; }
    /// The active health of the pools' endpoints. Not const: the health checker writes its
    /// atomic flags while workers read them through the same immutable generation.
    HealthBoard& health() const { return *health_; }
    /// The process-wide rate and in-flight limits; `budget` is a named tenant's state by its
    /// slot (TenantMatch::index, routing::HostTable::slot_of).
    Limiter& limiter() const { return *limiter_; }
    TenantBudget* budget(std::size_t slot) const { return budgets_[slot].get(); }

  private:
    /// Fills budgets_, from `previous` where it can.
    void take_budgets(const Generation* previous);
    /// Fills colors_, maintenance_ and serving_ from the runtime state.
    void apply_runtime();

    std::shared_ptr<const config::Snapshot> snapshot_;
    std::uint64_t number_;
    std::uint64_t serial_;
    std::shared_ptr<const Runtime> runtime_;
    /// By slot of named tenants: the switched colour, and the maintenance.
    std::vector<std::optional<config::Color>> colors_;
    std::vector<const Maintenance*> maintenance_;
    std::vector<tcp::endpoint> serving_;  ///< sorted
    routing::HostTable hosts_;
    std::map<std::string, ResolvedPool, std::less<>> pools_;
    TlsStores tls_;
    Limiter* limiter_;
    routing::ChunkedVector<std::shared_ptr<TenantBudget>> budgets_;  ///< by slot
    std::unique_ptr<HealthBoard> health_;
};

/// Host names in the pools of `snapshot` that need DNS (IP literals excluded).
std::vector<std::string> names_to_resolve(const config::Snapshot& snapshot);

}  // namespace tg::proxy
