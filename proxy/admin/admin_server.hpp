#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/snapshot.hpp"
#include "proxy/generation.hpp"
#include "proxy/io.hpp"
#include "proxy/observe/worker_metrics.hpp"
#include "proxy/state/audit_log.hpp"
#include "proxy/state/runtime_control.hpp"
#include "tls/context_store.hpp"

namespace prometheus {
class Collectable;
}

namespace tg::proxy {

class BudgetSync;
class StateSync;

/// What the admin API reports about the process; written and read by the control thread only.
struct ServerState {
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::shared_ptr<const config::Snapshot> snapshot;
    std::shared_ptr<const Generation> generation;  ///< the one published last
    std::uint64_t config_generation = 1;
    std::uint64_t reloads_succeeded = 0;
    std::uint64_t reloads_failed = 0;
    std::string admin_token;                            ///< empty: no mutating call is accepted
    std::vector<tls::CertificateSummary> certificates;  ///< of every TLS listener
    std::size_t workers = 0;
    bool draining = false;
    const BudgetSync* budget_sync = nullptr;  ///< set when state.redis shares the budgets
    const StateSync* state_sync = nullptr;    ///< set when state.redis shares the runtime state
};

/// A tenant's connections summed over the workers.
struct TenantLoad {
    std::int64_t in_flight = 0;
    std::int64_t tunnels = 0;
    std::int64_t draining = 0;  ///< on the colour a release is draining
};
using TenantLoads = std::map<std::string, TenantLoad, std::less<>>;

/// What the admin API can ask of the server.
struct AdminActions {
    /// Reloads the config file; returns every error (empty when the new config is in effect).
    std::function<asio::awaitable<std::vector<std::string>>()> reload;
    std::function<void()> drain;
    /// Makes `next` the runtime state: persisted, in effect on every worker, shared with the
    /// other replicas. Returns why it could not be persisted (then nothing changed).
    std::function<asio::awaitable<std::optional<std::string>>(RuntimeState next)> change_runtime;
};

/// The admin listener (SPEC §6), on the control thread and never on a public listener.
class AdminServer {
  public:
    AdminServer(asio::io_context& control, tcp::acceptor acceptor, const ServerState& state,
                std::vector<const WorkerMetrics*> workers, const prometheus::Collectable& metrics,
                const RuntimeControl& runtime, AuditLog& audit, AdminActions actions);
    void start();
    void stop();
    tcp::endpoint local_endpoint() const;

  private:
    using Request = http::request<http::string_body>;
    using Response = http::response<http::string_body>;

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(tcp::socket socket);
    /// `body_too_large`: the body was cut at the limit; the call is answered 413 (and audited).
    asio::awaitable<Response> handle(const Request& request, const std::string& client,
                                     bool body_too_large);
    /// A mutating call: authorised, carried out and audited, accepted or refused (SPEC §5).
    asio::awaitable<Response> change(const Request& request, const std::string& client,
                                     std::string_view action, std::optional<std::string> tenant,
                                     bool body_too_large);
    /// Empty when `request` may proceed; else the 401/403 answer.
    std::optional<Response> refuse_unauthorized(const Request& request) const;
    Response status(const Request& request) const;
    Response tenants(const Request& request) const;
    Response tenant(const Request& request, std::string_view name) const;
    Response audit_lines(const Request& request) const;
    asio::awaitable<Response> reload(const Request& request);
    asio::awaitable<Response> set_maintenance(const Request& request,
                                              const std::optional<std::string>& tenant,
                                              AuditEntry& audit);
    asio::awaitable<Response> switch_release(const Request& request, const std::string& tenant,
                                             AuditEntry& audit);
    /// PUT /api/v1/tenants/NAME: adds or replaces a runtime tenant (SPEC §6).
    asio::awaitable<Response> put_tenant(const Request& request, const std::string& tenant,
                                         AuditEntry& audit);
    /// DELETE /api/v1/tenants/NAME: removes a runtime tenant; its connections drain.
    asio::awaitable<Response> delete_tenant(const Request& request, const std::string& tenant,
                                            AuditEntry& audit);
    /// Every tenant's connections, summed over the workers (one lock per worker).
    TenantLoads tenant_loads() const;
    /// A tenant's state as GET /api/v1/tenants/NAME shows it.
    boost::json::object tenant_json(const config::Tenant& tenant, const TenantLoads& loads) const;

    asio::io_context& control_;
    tcp::acceptor acceptor_;
    const ServerState& state_;
    std::vector<const WorkerMetrics*> workers_;
    const prometheus::Collectable& metrics_;
    const RuntimeControl& runtime_;
    AuditLog& audit_;
    AdminActions actions_;
};

}  // namespace tg::proxy
