#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/snapshot.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/generation.hpp"
#include "proxy/idle_thread.hpp"
#include "proxy/io.hpp"
#include "proxy/observe/access_log.hpp"
#include "proxy/observe/metrics_collector.hpp"
#include "proxy/state/audit_log.hpp"
#include "proxy/state/budget_sync.hpp"
#include "proxy/state/runtime_control.hpp"
#include "proxy/state/state_file.hpp"
#include "proxy/state/state_sync.hpp"
#include "proxy/state/tenant_merger.hpp"
#include "proxy/upstream/dns_refresher.hpp"
#include "proxy/upstream/health_checker.hpp"
#include "proxy/worker.hpp"
#include "tls/file_watch.hpp"
#include "tls/ticket_keys.hpp"

namespace tg::proxy {

/// The process: N workers on the data path, and the control thread (this one) for signals,
/// reloads, DNS refresh and the admin listener. Nothing here runs per request.
class Server {
  public:
    /// `config_path` empty: the snapshot is the embedded demo and cannot be reloaded from disk.
    Server(std::string config_path, std::shared_ptr<const config::Snapshot> snapshot);
    ~Server();

    /// Serves until drained (SIGTERM, POST /api/v1/drain) or stopped; returns the exit code.
    int run();

  private:
    asio::awaitable<void> start();
    asio::awaitable<void> signal_loop();
    asio::awaitable<void> dns_loop();
    /// Rotates ticket keys and rebuilds certificate stores when their files change on disk.
    asio::awaitable<void> tls_loop();
    /// Builds the certificate store of every TLS listener of `snapshot`; returns every error.
    std::vector<std::string> build_tls(const config::Snapshot& snapshot, TlsStores& stores);
    asio::awaitable<void> reload_on_signal();
    /// Loads the config file and publishes it; returns every error (empty: in effect now).
    /// Either outcome is logged ("config reloaded" / "config reload failed"), naming `trigger`.
    asio::awaitable<std::vector<std::string>> reload_config(std::string_view trigger);
    /// reload_config without the log line.
    asio::awaitable<std::vector<std::string>> apply_config_file();
    asio::awaitable<void> drain_then_exit();
    void begin_drain();
    /// Builds a generation of what is served now (snapshot_, hosts_, the runtime state, DNS,
    /// certificates) numbered `number`, and hands it to every worker.
    asio::awaitable<void> publish(std::uint64_t number);
    /// Runs `work` (merging tenants, building a generation) on the idle thread once the
    /// workers serve; before that, at start-up, here at full priority: nothing is served yet,
    /// and a busy machine must not stretch the start.
    template <class Work>
    asio::awaitable<std::invoke_result_t<Work&>> rebuild(Work work) {
        if (workers_.empty()) co_return work();
        co_return co_await idle_.run(std::move(work));
    }
    /// A generation of `snapshot_` and the current runtime state, built (see rebuild) and freed
    /// on the idle thread.
    asio::awaitable<std::shared_ptr<const Generation>> build_generation(std::uint64_t number);
    /// Loads the state file and, with Redis, the state the other replicas share (SPEC §5).
    asio::awaitable<void> load_runtime_state();
    /// Persists `next`, makes it current on every worker and shares it with the other
    /// replicas; returns why it could not be persisted (then nothing changed).
    asio::awaitable<std::optional<std::string>> change_runtime(RuntimeState next);
    /// The state merged with the other replicas' (StateSync decides): kept in the state file
    /// and made current here.
    void adopt_runtime(RuntimeState next);
    /// Rebuilds `snapshot_` from the config file's snapshot and the runtime tenants (on the idle
    /// thread, parsing only definitions that changed), logs each runtime tenant left out, and
    /// drains tenants the merge no longer serves. Does not publish.
    asio::awaitable<void> merge_tenants();
    /// What adopt_runtime leaves to a coroutine: the merge (when tenants changed), the publish.
    asio::awaitable<void> adopt_tenants_and_publish(bool tenants_changed);
    /// Ends each release drain once its colour has no connection left on any worker.
    asio::awaitable<void> drain_watch_loop();
    bool open_listeners(const config::Snapshot& snapshot, std::size_t worker_count);

    static constexpr Clock::duration dns_interval_ = std::chrono::seconds(30);
    static constexpr Clock::duration dns_timeout_ = std::chrono::seconds(5);
    static constexpr Clock::duration tunnel_grace_ = std::chrono::seconds(5);
    static constexpr Clock::duration tls_poll_interval_ = std::chrono::seconds(5);
    static constexpr Clock::duration drain_watch_interval_ = std::chrono::milliseconds(100);
    /// How long a starting replica waits for Redis to read the shared state first.
    static constexpr Clock::duration state_fetch_timeout_ = std::chrono::seconds(2);

    std::string config_path_;
    std::shared_ptr<const config::Snapshot> file_snapshot_;  ///< the config file's, as loaded
    /// What is served: the file's snapshot with the runtime tenants merged in.
    std::shared_ptr<const config::Snapshot> snapshot_;
    routing::HostTable hosts_;  ///< indexes snapshot_'s tenants (once merged)
    std::uint64_t generation_number_ = 1;
    DnsAnswers dns_;
    asio::io_context control_;
    TenantMerger tenant_merger_;  ///< used on `idle_` only
    /// Destroyed before the members above and after those below: the generations those hold
    /// are freed on it.
    IdleThread idle_;
    asio::signal_set signals_;
    DnsRefresher dns_refresher_;
    asio::steady_timer dns_timer_;
    asio::steady_timer tls_timer_;
    HealthChecker health_checker_;
    std::shared_ptr<tls::TicketKeys> ticket_keys_;
    TlsStores tls_stores_;
    std::optional<tls::ReloadTrigger> tls_reload_trigger_;
    std::unique_ptr<AccessLogWriter> access_log_writer_;
    Limiter limiter_;  ///< outlives the generations that point into it
    std::string replica_id_;
    std::unique_ptr<BudgetSync> budget_sync_;
    std::optional<StateFile> state_file_;
    std::unique_ptr<RuntimeControl> runtime_;
    std::unique_ptr<AuditLog> audit_log_;
    std::unique_ptr<StateSync> state_sync_;
    asio::steady_timer drain_watch_timer_;
    int publishing_ = 0;  ///< publishes under way (some workers may not have the latest yet)
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<MetricsCollector> metrics_;
    std::unique_ptr<AdminServer> admin_;
    ServerState state_;
    int exit_code_ = 0;
    bool hard_stop_ = false;  ///< connections may still be open: exit without unwinding
};

}  // namespace tg::proxy
