#include "proxy/server.hpp"

#include <signal.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "config/load.hpp"
#include "config/units.hpp"
#include "proxy/listening_socket.hpp"
#include "proxy/observe/ops_log.hpp"
#include "proxy/state/replica_id.hpp"
#include "routing/release.hpp"

namespace tg::proxy {
namespace {

std::string endpoint_text(const tcp::endpoint& endpoint) {
    const auto ip = endpoint.address();
    return (ip.is_v6() ? "[" + ip.to_string() + "]" : ip.to_string()) + ":" +
           std::to_string(endpoint.port());
}

/// The address to bind for `host_port`; a name is resolved once, at start-up.
tcp::endpoint bind_address(const config::HostPort& host_port) {
    error_code ec;
    const auto ip = asio::ip::make_address(host_port.host, ec);
    if (!ec) return {ip, host_port.port};
    asio::io_context lookup;
    tcp::resolver resolver(lookup);
    const auto results = resolver.resolve(host_port.host, std::to_string(host_port.port));
    return results.begin()->endpoint();
}

/// The admin bearer token from `admin.token_file`. A token others can read is no secret, so a
/// world-readable file is refused rather than trusted.
std::string read_admin_token(const config::Admin& admin) {
    if (admin.token_file.empty()) return {};
    struct stat info {};
    if (::stat(admin.token_file.c_str(), &info) != 0)
        throw std::runtime_error("cannot read admin token file " + admin.token_file + ": " +
                                 std::strerror(errno));
    if (info.st_mode & S_IROTH)
        throw std::runtime_error("admin token file " + admin.token_file +
                                 " is world-readable; run chmod o-r on it");
    std::ifstream file(admin.token_file);
    std::string token((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
    if (token.empty())
        throw std::runtime_error("admin token file " + admin.token_file + " is empty");
    return token;
}

std::vector<tls::CertificateSummary> certificates_of(const TlsStores& stores) {
    std::vector<tls::CertificateSummary> all;
    for (const auto& store : stores)
        if (store)
            all.insert(all.end(), store->certificates().begin(), store->certificates().end());
    return all;
}

ListenerInfo listener_info(const config::Listener& listener, std::size_t index) {
    ListenerInfo info{listener.name,
                      index,
                      listener.tls.has_value(),
                      listener.redirect_https,
                      {},
                      listener.proxy_protocol,
                      std::make_shared<LogThrottle>(),
                      std::make_shared<LogThrottle>()};
    if (listener.tls && listener.tls->hsts_seconds > 0)
        info.hsts = "max-age=" + std::to_string(listener.tls->hsts_seconds);
    return info;
}

/// Every certificate and key file of `snapshot`'s TLS listeners.
std::vector<std::string> tls_files_of(const config::Snapshot& snapshot) {
    std::vector<std::string> files;
    for (const auto& listener : snapshot.listeners)
        if (listener.tls)
            for (auto& file : tls::tls_files(*listener.tls)) files.push_back(std::move(file));
    return files;
}

/// How much lower than the workers the control thread runs (nice steps).
constexpr int control_thread_nice_offset = 10;

/// The control thread yields to the workers. It loads config files and parses the runtime state
/// other replicas share (all of it, megabytes at 20,000 tenants) on a core it shares with a
/// worker that must not delay requests; admin calls, health checks and DNS are light and still get
/// their share (CFS gives a nice-10 thread about a tenth of a contended core). Linux applies
/// setpriority to one thread when given its id; only lowering needs no privilege.
void lower_control_thread_priority() {
    const auto thread = static_cast<id_t>(::gettid());
    errno = 0;
    const int current = ::getpriority(PRIO_PROCESS, thread);
    if (errno != 0) return;
    const int lowered = std::min(current + control_thread_nice_offset, 19);
    if (::setpriority(PRIO_PROCESS, thread, lowered) != 0)
        ops_log::warn("control thread priority not lowered", {{"reason", std::strerror(errno)}});
}

std::vector<std::string> error_texts(const std::vector<config::ConfigError>& errors) {
    std::vector<std::string> texts;
    for (const auto& e : errors) texts.push_back(e.to_string());
    return texts;
}

}  // namespace

Server::Server(std::string config_path, std::shared_ptr<const config::Snapshot> snapshot)
    : config_path_(std::move(config_path)),
      file_snapshot_(snapshot),
      snapshot_(std::move(snapshot)),
      control_(1),
      signals_(control_, SIGHUP, SIGTERM, SIGINT),
      dns_refresher_(control_),
      dns_timer_(control_),
      tls_timer_(control_),
      health_checker_(control_),
      limiter_(std::random_device{}()),
      replica_id_(make_replica_id()),
      drain_watch_timer_(control_) {
    signals_.add(SIGUSR1);
}

Server::~Server() {
    for (auto& worker : workers_) worker->join();
}

int Server::run() {
    access_log_writer_ = std::make_unique<AccessLogWriter>(snapshot_->access_log);
    asio::co_spawn(control_, start(), [this](std::exception_ptr failure) {
        if (!failure) return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            ops_log::error("start-up failed", {{"reason", e.what()}});
        }
        exit_code_ = 1;
        control_.stop();
    });
    control_.run();
    if (hard_stop_) {
        // Sessions are still suspended mid-request; unwinding them would race the workers.
        for (auto& worker : workers_) worker->stop_now();
        access_log_writer_->flush();
        std::fflush(nullptr);
        std::_Exit(exit_code_);
    }
    for (auto& worker : workers_) worker->join();
    access_log_writer_->flush();
    return exit_code_;
}

asio::awaitable<void> Server::start() {
    state_.admin_token = read_admin_token(snapshot_->admin);
    state_.snapshot = snapshot_;
    ticket_keys_ = std::make_shared<tls::TicketKeys>(std::chrono::system_clock::now());
    tls_reload_trigger_.emplace(tls::fingerprint(tls_files_of(*snapshot_)));
    if (const auto errors = build_tls(*snapshot_, tls_stores_); !errors.empty()) {
        std::string joined;
        for (const auto& e : errors) joined += (joined.empty() ? "" : "; ") + e;
        throw std::runtime_error(joined);
    }
    state_.certificates = certificates_of(tls_stores_);
    audit_log_ = std::make_unique<AuditLog>(snapshot_->audit_log);
    const auto load_started = Clock::now();
    co_await load_runtime_state();
    co_await merge_tenants();
    const auto served_from_api = std::count_if(
        snapshot_->tenants.begin(), snapshot_->tenants.end(),
        [](const auto& entry) { return entry.second->origin == config::TenantOrigin::api; });
    if (served_from_api != 0) {
        const auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - load_started);
        ops_log::info("runtime tenants loaded",
                      {{"runtime_tenants", std::to_string(served_from_api), true},
                       {"tenants", std::to_string(snapshot_->tenants.size()), true},
                       {"ms", std::to_string(took.count()), true}});
    }
    state_.snapshot = snapshot_;
    dns_ = co_await dns_refresher_.resolve(*snapshot_, {}, dns_timeout_);
    const auto generation = co_await build_generation(generation_number_);
    state_.generation = generation;
    health_checker_.track(generation, generation->health());
    const std::size_t worker_count = snapshot_->workers > 0
                                         ? static_cast<std::size_t>(snapshot_->workers)
                                         : std::max(1u, std::thread::hardware_concurrency());
    const std::size_t per_worker_connections =
        (snapshot_->limits.max_connections + worker_count - 1) / worker_count;
    for (std::size_t i = 0; i < worker_count; ++i)
        workers_.push_back(std::make_unique<Worker>(i, *access_log_writer_, generation,
                                                    per_worker_connections,
                                                    snapshot_->listeners.size()));
    state_.workers = worker_count;

    std::vector<std::string> listener_names;
    std::vector<const WorkerMetrics*> worker_metrics;
    for (const auto& worker : workers_) worker_metrics.push_back(&worker->metrics());
    for (const auto& listener : snapshot_->listeners) {
        const std::size_t index = listener_names.size();
        listener_names.push_back(listener.name);
        auto address = bind_address(listener.address);
        const ListenerInfo info = listener_info(listener, index);  // one refusal log for all
        for (auto& worker : workers_) {
            auto acceptor = open_acceptor(worker->context(), address, true);
            address =
                acceptor.local_endpoint();  // port 0: every worker shares the first one's port
            worker->add_acceptor(std::move(acceptor), info);
        }
        ops_log::info("listening",
                      {{"listener", listener.name}, {"address", endpoint_text(address)}});
    }
    metrics_ = std::make_unique<MetricsCollector>(worker_metrics, listener_names, state_);
    AdminActions actions{[this] { return reload_config("admin API"); }, [this] { begin_drain(); },
                         [this](RuntimeState next) { return change_runtime(std::move(next)); }};
    admin_ = std::make_unique<AdminServer>(
        control_, open_acceptor(control_, bind_address(snapshot_->admin.address), false), state_,
        worker_metrics, *metrics_, *runtime_, *audit_log_, std::move(actions));
    ops_log::info("listening",
                  {{"listener", "admin"}, {"address", endpoint_text(admin_->local_endpoint())}});

    if (snapshot_->state.redis_url) {
        std::string error;
        auto address = parse_redis_url(*snapshot_->state.redis_url, error);
        if (!address) throw std::runtime_error("state.redis: " + error);
        budget_sync_ = std::make_unique<BudgetSync>(
            control_, std::move(*address), snapshot_->state, limiter_,
            [this] { return state_.generation; }, replica_id_);
        state_.budget_sync = budget_sync_.get();
        asio::co_spawn(control_, budget_sync_->run(), asio::detached);
        asio::co_spawn(control_, state_sync_->run(), asio::detached);
    }
    for (auto& worker : workers_) worker->start();
    lower_control_thread_priority();  // after the workers' threads, which keep the default
    admin_->start();
    asio::co_spawn(control_, signal_loop(), asio::detached);
    asio::co_spawn(control_, dns_loop(), asio::detached);
    asio::co_spawn(control_, tls_loop(), asio::detached);
    asio::co_spawn(control_, drain_watch_loop(), asio::detached);
    ops_log::info("ready", {{"workers", std::to_string(worker_count), true},
                            {"config", snapshot_->source},
                            {"generation", std::to_string(generation_number_), true}});
}

asio::awaitable<void> Server::signal_loop() {
    for (;;) {
        auto [ec, signal] = co_await signals_.async_wait(use_nothrow);
        if (ec) co_return;
        switch (signal) {
            case SIGHUP:
                co_await reload_on_signal();
                break;
            case SIGUSR1:
                access_log_writer_->reopen();
                if (std::string error; !audit_log_->reopen(error))
                    ops_log::error("audit log not reopened, still writing to the old file",
                                   {{"reason", error}});
                break;
            case SIGTERM:
                if (!state_.draining) {
                    begin_drain();
                    break;
                }
                [[fallthrough]];
            case SIGINT:
                ops_log::info("stopping now",
                              {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
                hard_stop_ = true;
                control_.stop();
                co_return;
        }
    }
}

asio::awaitable<void> Server::reload_on_signal() {
    if (config_path_.empty()) {
        ops_log::warn("reload ignored: running on the embedded demo config");
        co_return;
    }
    co_await reload_config("SIGHUP");
}

asio::awaitable<std::vector<std::string>> Server::reload_config(std::string_view trigger) {
    // Both triggers log the outcome the same way: a refused reload is never silent, whatever
    // asked for it (the admin API's caller also gets the errors, the audit log only "refused").
    auto errors = co_await apply_config_file();
    if (errors.empty())
        ops_log::info("config reloaded", {{"generation", std::to_string(generation_number_), true},
                                          {"trigger", trigger}});
    else
        ops_log::error_list("config reload failed", errors, {{"trigger", trigger}});
    co_return errors;
}

asio::awaitable<std::vector<std::string>> Server::apply_config_file() {
    if (config_path_.empty())
        co_return std::vector<std::string>{
            "running on the embedded demo config: nothing to reload"};
    if (state_.draining) co_return std::vector<std::string>{"draining: reload refused"};
    auto loaded = config::load_file(config_path_);
    std::vector<std::string> errors = error_texts(loaded.errors);
    std::string token;
    if (loaded.snapshot) {
        try {
            token = read_admin_token(loaded.snapshot->admin);
        } catch (const std::exception& e) {
            errors.push_back(e.what());
        }
    }
    TlsStores stores;
    auto fingerprint =
        loaded.snapshot ? tls::fingerprint(tls_files_of(*loaded.snapshot)) : tls::Fingerprint{};
    if (loaded.snapshot && errors.empty()) errors = build_tls(*loaded.snapshot, stores);
    if (!errors.empty()) {
        ++state_.reloads_failed;
        co_return errors;
    }
    tls_stores_ = std::move(stores);
    tls_reload_trigger_->reset(std::move(fingerprint));
    for (const auto& warning : loaded.warnings) ops_log::warn(warning);
    const auto& next = *loaded.snapshot;
    const auto same_listeners = [&] {
        if (next.listeners.size() != snapshot_->listeners.size()) return false;
        for (std::size_t i = 0; i < next.listeners.size(); ++i)
            if (next.listeners[i].name != snapshot_->listeners[i].name ||
                next.listeners[i].address.text != snapshot_->listeners[i].address.text ||
                next.listeners[i].proxy_protocol != snapshot_->listeners[i].proxy_protocol)
                return false;
        return next.admin.address.text == snapshot_->admin.address.text &&
               next.workers == snapshot_->workers && next.access_log == snapshot_->access_log &&
               next.state.redis_url == snapshot_->state.redis_url;
    };
    if (!same_listeners())
        ops_log::warn(
            "listeners, admin address, workers, access_log and state.redis apply at the next "
            "restart");
    dns_ = co_await dns_refresher_.resolve(next, dns_, dns_timeout_);
    state_.admin_token = std::move(token);
    file_snapshot_ = loaded.snapshot;
    co_await merge_tenants();
    // A tenant the new config removed (or that lost its release) takes its runtime state along;
    // the runtime tenants are part of what is served, so theirs stays.
    if (auto pruned = runtime_->pruned_for(*snapshot_, std::chrono::system_clock::now())) {
        std::string error;
        if (!state_file_->save(*pruned, error))
            ops_log::error("state file not updated after the reload", {{"reason", error}});
        runtime_->apply(std::move(*pruned), std::chrono::system_clock::now(), Clock::now());
        if (state_sync_) state_sync_->push();
    }
    co_await publish(++generation_number_);
    ++state_.reloads_succeeded;
    co_return std::vector<std::string>{};
}

asio::awaitable<void> Server::publish(std::uint64_t number) {
    ++publishing_;
    const auto generation = co_await build_generation(number);
    // What the admin API reads changes with what the workers are about to serve.
    state_.snapshot = generation->snapshot();
    state_.config_generation = number;
    state_.certificates = certificates_of(tls_stores_);
    state_.generation = generation;
    health_checker_.track(generation, generation->health());
    for (auto& worker : workers_) co_await worker->publish(generation);
    --publishing_;
}

asio::awaitable<std::shared_ptr<const Generation>> Server::build_generation(std::uint64_t number) {
    // The last reference to a generation is often dropped on a worker (the worker taking the
    // next one, or a session ending): freeing 20,000 tenants' tables there would stall its
    // requests for milliseconds, so the idle thread frees it.
    const auto free_on_idle_thread = [this](const Generation* generation) {
        idle_.post([owned = std::unique_ptr<const Generation>(generation)] {});
    };
    // Everything it reads is captured now: the control thread may replace any of it meanwhile.
    // (Named, not a temporary in the co_await expression: GCC 12 destroys those twice.)
    auto build = [this, number, free_on_idle_thread, snapshot = snapshot_, hosts = hosts_,
                  dns = dns_, tls = tls_stores_, previous = state_.generation,
                  runtime = runtime_->runtime()]() mutable {
        return std::shared_ptr<const Generation>(
            new Generation(snapshot, std::move(hosts), number, dns, tls, previous.get(), limiter_,
                           runtime),
            free_on_idle_thread);
    };
    co_return co_await rebuild(std::move(build));
}

asio::awaitable<void> Server::dns_loop() {
    for (;;) {
        dns_timer_.expires_after(dns_interval_);
        auto [ec] = co_await dns_timer_.async_wait(use_nothrow);
        if (ec || state_.draining) co_return;
        auto answers = co_await dns_refresher_.resolve(*snapshot_, dns_, dns_timeout_);
        if (answers == dns_) continue;
        dns_ = std::move(answers);
        ops_log::info("dns answers changed, endpoints updated");
        co_await publish(generation_number_);
    }
}

std::vector<std::string> Server::build_tls(const config::Snapshot& snapshot, TlsStores& stores) {
    std::vector<std::string> errors;
    stores.assign(snapshot.listeners.size(), nullptr);
    const auto now = std::chrono::system_clock::now();
    for (std::size_t i = 0; i < snapshot.listeners.size(); ++i) {
        const auto& listener = snapshot.listeners[i];
        if (!listener.tls) continue;
        auto built = tls::build_store(*listener.tls, now, ticket_keys_);
        for (const auto& e : built.errors) errors.push_back("listener " + listener.name + ": " + e);
        // An expired certificate is served anyway: one tenant's lapse must not stop the others.
        for (const auto& w : built.validity_errors) ops_log::warn(w, {{"listener", listener.name}});
        for (const auto& w : built.warnings) ops_log::warn(w, {{"listener", listener.name}});
        stores[i] = std::move(built.store);
    }
    return errors;
}

asio::awaitable<void> Server::tls_loop() {
    for (;;) {
        tls_timer_.expires_after(tls_poll_interval_);
        auto [ec] = co_await tls_timer_.async_wait(use_nothrow);
        if (ec || state_.draining) co_return;
        ticket_keys_->rotate_if_due(std::chrono::system_clock::now());
        const auto files = tls_files_of(*snapshot_);
        if (files.empty() || !tls_reload_trigger_->poll(tls::fingerprint(files))) continue;
        TlsStores stores;
        if (const auto errors = build_tls(*snapshot_, stores); !errors.empty()) {
            ops_log::error_list("certificate reload failed, the previous certificates keep serving",
                                errors);
            continue;
        }
        tls_stores_ = std::move(stores);
        co_await publish(generation_number_);
        ops_log::info("certificates reloaded");
    }
}

asio::awaitable<void> Server::load_runtime_state() {
    state_file_.emplace(snapshot_->state.state_file);
    auto loaded = state_file_->load();
    if (!loaded.ok()) throw std::runtime_error(loaded.error);
    runtime_ = std::make_unique<RuntimeControl>(replica_id_, std::move(loaded.state));
    if (!snapshot_->state.redis_url) co_return;
    std::string error;
    auto address = parse_redis_url(*snapshot_->state.redis_url, error);
    if (!address) throw std::runtime_error("state.redis: " + error);
    StateSync::Callbacks callbacks{[this] { return runtime_->state(); },
                                   [this](RuntimeState next) { adopt_runtime(std::move(next)); }};
    state_sync_ =
        std::make_unique<StateSync>(control_, std::move(*address), snapshot_->state.key_prefix,
                                    replica_id_, std::move(callbacks));
    state_.state_sync = state_sync_.get();
    // What the other replicas decided while this one was away comes before the first request.
    co_await state_sync_->start(state_fetch_timeout_);
}

asio::awaitable<std::optional<std::string>> Server::change_runtime(RuntimeState next) {
    std::string error;
    // Saved and applied with no suspension in between: the next change is computed from this
    // one, never from the state before it.
    if (!state_file_->save(next, error)) co_return "state not saved, nothing changed: " + error;
    const bool tenants_changed = next.tenants != runtime_->state().tenants;
    runtime_->apply(std::move(next), std::chrono::system_clock::now(), Clock::now());
    if (state_sync_) state_sync_->push();
    if (tenants_changed) co_await merge_tenants();
    if (!workers_.empty()) co_await publish(generation_number_);
    co_return std::nullopt;
}

void Server::adopt_runtime(RuntimeState next) {
    // Kept whole, tenants this replica does not know included: its config may be the one
    // behind, and what it pushes later must not erase them for the others.
    std::string error;
    if (!state_file_->save(next, error))
        ops_log::error("state from another replica applied but not saved", {{"reason", error}});
    ops_log::info("runtime state merged with the other replicas'",
                  {{"origin", next.origin}, {"version", std::to_string(next.version), true}});
    const bool tenants_changed = next.tenants != runtime_->state().tenants;
    runtime_->apply(std::move(next), std::chrono::system_clock::now(), Clock::now());
    // Before the first publish (start-up) the merge comes with the first generation.
    if (workers_.empty()) return;
    asio::co_spawn(control_, adopt_tenants_and_publish(tenants_changed), asio::detached);
}

asio::awaitable<void> Server::adopt_tenants_and_publish(bool tenants_changed) {
    if (tenants_changed) co_await merge_tenants();
    co_await publish(generation_number_);
}

asio::awaitable<void> Server::merge_tenants() {
    auto merge = [this, file = file_snapshot_, runtime = runtime_->runtime()] {
        return tenant_merger_.merge(file, runtime->state.tenants);
    };
    auto merged = co_await rebuild(std::move(merge));
    for (const auto& problem : merged.problems) ops_log::warn(problem);

    // Tenants served before and not now drain like a release's colour (SPEC §5), with their
    // release's drain timeout or the default one; tenants served again stop draining.
    std::vector<std::pair<std::string, config::Duration>> removed;
    for (const auto& tenant : merged.removed)
        removed.emplace_back(tenant->name, tenant->policy.release
                                               ? tenant->policy.release->drain_timeout
                                               : config::Release{}.drain_timeout);
    std::vector<std::string> returned;
    for (const auto& [name, drain] : runtime_->runtime()->drains)
        if (drain.whole_tenant && merged.snapshot->tenants.contains(name)) returned.push_back(name);
    runtime_->drain_tenants(removed, returned, std::chrono::system_clock::now(), Clock::now());
    for (const auto& [name, timeout] : removed)
        ops_log::info("tenant removed, draining",
                      {{"tenant", name}, {"drain_timeout", config::format_duration(timeout)}});
    snapshot_ = std::move(merged.snapshot);
    hosts_ = std::move(merged.hosts);
}

asio::awaitable<void> Server::drain_watch_loop() {
    for (;;) {
        drain_watch_timer_.expires_after(drain_watch_interval_);
        auto [ec] = co_await drain_watch_timer_.async_wait(use_nothrow);
        if (ec || state_.draining) co_return;
        // Until every worker has a generation with the latest runtime state, its drain counts
        // are not in yet.
        if (publishing_ != 0 || &state_.generation->runtime() != runtime_->runtime().get())
            continue;
        const auto drains = runtime_->runtime()->drains;
        if (drains.empty()) continue;
        bool ended = false;
        for (const auto& [tenant, drain] : drains) {
            std::int64_t left = 0;
            for (const auto& worker : workers_)
                // Captured by name: clang 14 (the TSan build) cannot capture a structured
                // binding implicitly.
                worker->metrics().for_each_tenant(
                    [&left, &tenant = tenant](const std::string& name, const TenantSeries& series) {
                        if (name == tenant) left += series.draining.value();
                    });
            if (left != 0) continue;
            ops_log::info(
                "release drained",
                {{"tenant", tenant}, {"color", std::string(routing::color_name(drain.color))}});
            runtime_->end_drain(tenant);
            ended = true;
        }
        if (ended) co_await publish(generation_number_);
    }
}

void Server::begin_drain() {
    if (state_.draining) return;
    state_.draining = true;
    ops_log::info("draining");
    health_checker_.stop();
    for (auto& worker : workers_) worker->begin_drain(tunnel_grace_);
    asio::co_spawn(control_, drain_then_exit(), asio::detached);
}

/// Waits for the workers to finish their connections, bounded: a request may take at most the
/// longest web timeout, tunnels get `tunnel_grace_`.
asio::awaitable<void> Server::drain_then_exit() {
    const auto deadline = Clock::now() + snapshot_->timeouts.upstream_response + tunnel_grace_ +
                          std::chrono::seconds(5);
    asio::steady_timer poll(control_);
    const auto all_finished = [&] {
        return std::all_of(workers_.begin(), workers_.end(),
                           [](const auto& w) { return w->finished(); });
    };
    while (!all_finished() && Clock::now() < deadline) {
        poll.expires_after(std::chrono::milliseconds(50));
        co_await poll.async_wait(use_nothrow);
    }
    if (all_finished()) {
        ops_log::info("drained");
    } else {
        ops_log::warn("drain deadline passed, closing the remaining connections");
        hard_stop_ = true;
    }
    dns_timer_.cancel();
    tls_timer_.cancel();
    drain_watch_timer_.cancel();
    if (budget_sync_) budget_sync_->stop();
    if (state_sync_) state_sync_->stop();
    admin_->stop();
    control_.stop();
}

}  // namespace tg::proxy
