#include "proxy/admin/admin_server.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <boost/json.hpp>
#include <map>

#include "config/units.hpp"
#include "proxy/admin/admin_json.hpp"
#include "proxy/observe/metrics_collector.hpp"
#include "proxy/state/budget_sync.hpp"
#include "routing/release.hpp"

namespace tg::proxy {
namespace {

namespace json = boost::json;
constexpr auto admin_read_timeout = std::chrono::seconds(10);
constexpr std::size_t admin_body_limit = 1024 * 1024;

/// Compares secrets in time independent of where they differ (and of their lengths).
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char da[SHA256_DIGEST_LENGTH];
    unsigned char db[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
    SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
    return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

/// The token of an `Authorization: Bearer` header; empty when there is none.
std::string_view bearer_token(const http::request<http::string_body>& request) {
    const auto header = request[http::field::authorization];
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() <= scheme.size() || !beast::iequals(header.substr(0, scheme.size()), scheme))
        return {};
    return header.substr(scheme.size());
}

json::value rate_limit_json(const std::optional<config::RateLimit>& limit) {
    if (!limit) return nullptr;
    return json::object{{"requests_per_second", limit->requests_per_second},
                        {"burst", limit->burst}};
}

}  // namespace

AdminServer::AdminServer(asio::io_context& control, tcp::acceptor acceptor,
                         const ServerState& state, std::vector<const WorkerMetrics*> workers,
                         const prometheus::Collectable& metrics, const RuntimeControl& runtime,
                         AuditLog& audit, AdminActions actions)
    : control_(control),
      acceptor_(std::move(acceptor)),
      state_(state),
      workers_(std::move(workers)),
      metrics_(metrics),
      runtime_(runtime),
      audit_(audit),
      actions_(std::move(actions)) {}

tcp::endpoint AdminServer::local_endpoint() const {
    return acceptor_.local_endpoint();
}

void AdminServer::start() {
    asio::co_spawn(control_, accept_loop(), asio::detached);
}

void AdminServer::stop() {
    error_code ignored;
    acceptor_.close(ignored);
}

asio::awaitable<void> AdminServer::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
        if (!acceptor_.is_open()) co_return;
        if (ec) continue;
        asio::co_spawn(control_, serve(std::move(socket)), asio::detached);
    }
}

asio::awaitable<void> AdminServer::serve(tcp::socket socket) {
    error_code peer_error;
    const auto peer = socket.remote_endpoint(peer_error);
    const std::string client = peer_error ? "-" : peer.address().to_string();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(admin_body_limit);
        stream.expires_after(admin_read_timeout);
        auto [read_ec, _] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (read_ec == http::error::end_of_stream || read_ec == beast::error::timeout) break;
        Response response;
        bool keep_alive = false;
        if (read_ec == http::error::body_limit) {
            // A mutating call still gets its audit line (SPEC §5), with what was too large.
            response = co_await handle(parser.get(), client, true);
        } else if (read_ec) {
            response =
                json_response(http::status::bad_request, error_body("malformed request"), 11);
        } else {
            const auto& request = parser.get();
            keep_alive = request.keep_alive();
            response = co_await handle(request, client, false);
            response.version(request.version());
        }
        response.keep_alive(keep_alive);
        stream.expires_after(admin_read_timeout);
        auto [write_ec, __] = co_await http::async_write(stream, response, use_nothrow);
        if (write_ec || !keep_alive) break;
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

std::optional<AdminServer::Response> AdminServer::refuse_unauthorized(
    const Request& request) const {
    const auto token = bearer_token(request);
    if (token.empty()) {
        auto response = json_response(http::status::unauthorized,
                                      error_body("missing bearer token"), request.version());
        response.set(http::field::www_authenticate, "Bearer");
        return response;
    }
    if (state_.admin_token.empty())
        return json_response(http::status::forbidden, error_body("no admin token is configured"),
                             request.version());
    if (!same_secret(token, state_.admin_token))
        return json_response(http::status::forbidden, error_body("invalid token"),
                             request.version());
    return std::nullopt;
}

asio::awaitable<AdminServer::Response> AdminServer::handle(const Request& request,
                                                           const std::string& client,
                                                           bool body_too_large) {
    const std::string_view target = request.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const unsigned version = request.version();
    const bool read = request.method() == http::verb::get || request.method() == http::verb::head;
    const auto method_not_allowed = [&](std::string_view allow) {
        auto response = json_response(http::status::method_not_allowed,
                                      error_body("method not allowed"), version);
        response.set(http::field::allow, allow);
        return response;
    };

    // Always open: probes and scrapes carry no token.
    if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
        if (!read) co_return method_not_allowed("GET, HEAD");
        if (path == "/healthz")
            co_return json_response(http::status::ok, {{"status", "ok"}}, version);
        if (path == "/readyz")
            co_return state_.draining
                ? json_response(http::status::service_unavailable, {{"status", "draining"}},
                                version)
                : json_response(http::status::ok, {{"status", "ready"}}, version);
        Response response{http::status::ok, version};
        response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        response.body() = render_metrics(metrics_);
        response.prepare_payload();
        co_return response;
    }

    // /api/v1/tenants/NAME[/maintenance|/release]
    constexpr std::string_view tenants_prefix = "/api/v1/tenants/";
    std::string_view tenant_name;
    std::string_view tenant_action;
    if (path.starts_with(tenants_prefix)) {
        const auto rest = path.substr(tenants_prefix.size());
        const auto slash = rest.find('/');
        tenant_name = rest.substr(0, slash);
        if (slash != std::string_view::npos) tenant_action = rest.substr(slash + 1);
    }
    const bool is_tenant_path =
        !tenant_name.empty() &&
        (tenant_action.empty() || tenant_action == "maintenance" || tenant_action == "release");
    const bool is_tenant_resource = is_tenant_path && tenant_action.empty();
    if (is_tenant_resource &&
        (request.method() == http::verb::put || request.method() == http::verb::delete_)) {
        const bool put = request.method() == http::verb::put;
        co_return co_await change(request, client, put ? "tenant_set" : "tenant_remove",
                                  std::string(tenant_name), body_too_large);
    }
    const bool is_read_path = path == "/api/v1/status" || path == "/api/v1/tenants" ||
                              path == "/api/v1/audit" || is_tenant_resource;
    const bool is_mutating_path = path == "/api/v1/reload" || path == "/api/v1/drain" ||
                                  path == "/api/v1/maintenance" ||
                                  (is_tenant_path && !tenant_action.empty());
    if (body_too_large && !is_mutating_path)
        co_return json_response(http::status::payload_too_large, error_body("body too large"),
                                version);
    if (is_read_path) {
        if (!read)
            co_return method_not_allowed(is_tenant_resource ? "GET, HEAD, PUT, DELETE"
                                                            : "GET, HEAD");
        if (!state_.snapshot->admin.allow_read_without_token)
            if (auto refusal = refuse_unauthorized(request)) co_return std::move(*refusal);
        if (path == "/api/v1/status") co_return status(request);
        if (path == "/api/v1/tenants") co_return tenants(request);
        if (path == "/api/v1/audit") co_return audit_lines(request);
        co_return tenant(request, tenant_name);
    }

    const auto mutating = [&](http::verb method, std::string_view allow) {
        return request.method() == method ? std::optional<Response>() : method_not_allowed(allow);
    };
    if (path == "/api/v1/reload" || path == "/api/v1/drain") {
        if (auto refusal = mutating(http::verb::post, "POST")) co_return std::move(*refusal);
        co_return co_await change(request, client, path.substr(path.rfind('/') + 1), std::nullopt,
                                  body_too_large);
    }
    if (path == "/api/v1/maintenance") {
        if (auto refusal = mutating(http::verb::put, "PUT")) co_return std::move(*refusal);
        co_return co_await change(request, client, "maintenance", std::nullopt, body_too_large);
    }
    if (is_tenant_path) {
        const bool release = tenant_action == "release";
        if (auto refusal =
                mutating(release ? http::verb::post : http::verb::put, release ? "POST" : "PUT"))
            co_return std::move(*refusal);
        co_return co_await change(request, client, tenant_action, std::string(tenant_name),
                                  body_too_large);
    }
    co_return json_response(http::status::not_found, error_body("no such admin endpoint"), version);
}

asio::awaitable<AdminServer::Response> AdminServer::change(const Request& request,
                                                           const std::string& client,
                                                           std::string_view action,
                                                           std::optional<std::string> tenant,
                                                           bool body_too_large) {
    AuditEntry audit;
    audit.time = std::chrono::system_clock::now();
    audit.token_fingerprint = token_fingerprint(bearer_token(request));
    audit.client = client;
    audit.action = std::string(action);
    audit.tenant = tenant;
    Response response;
    if (auto refusal = refuse_unauthorized(request))
        response = std::move(*refusal);
    else if (body_too_large)
        response = json_response(
            http::status::payload_too_large,
            error_body("body over " + std::to_string(admin_body_limit / 1024) + " KiB"),
            request.version());
    else if (action == "drain") {
        actions_.drain();
        response =
            json_response(http::status::accepted, {{"result", "draining"}}, request.version());
    } else if (action == "reload")
        response = co_await reload(request);
    else if (action == "maintenance")
        response = co_await set_maintenance(request, tenant, audit);
    else if (action == "tenant_set")
        response = co_await put_tenant(request, *tenant, audit);
    else if (action == "tenant_remove")
        response = co_await delete_tenant(request, *tenant, audit);
    else
        response = co_await switch_release(request, *tenant, audit);
    audit.status = response.result_int();
    audit.result = audit.status < 300 ? AuditResult::accepted : AuditResult::refused;
    if (audit.status >= 300) {
        json::error_code ec;
        const auto body = json::parse(response.body(), ec);
        if (!ec && body.is_object())
            if (const auto* error = body.as_object().if_contains("error");
                error && error->is_string())
                audit.error = error->as_string();
    }
    audit_.record(audit);
    co_return response;
}

asio::awaitable<AdminServer::Response> AdminServer::reload(const Request& request) {
    const auto errors = co_await actions_.reload();
    if (!errors.empty()) {
        json::array list;
        for (const auto& e : errors) list.emplace_back(e);
        co_return json_response(http::status::bad_request,
                                {{"error", "invalid config"}, {"errors", std::move(list)}},
                                request.version());
    }
    co_return json_response(http::status::ok,
                            {{"result", "reloaded"}, {"generation", state_.config_generation}},
                            request.version());
}

AdminServer::Response AdminServer::status(const Request& request) const {
    std::int64_t connections = 0;
    for (const auto* worker : workers_)
        for (std::size_t l = 0; l < worker->listener_count(); ++l)
            connections += worker->connections_value(l);
    const auto uptime =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - state_.started);
    json::value redis = nullptr;
    if (const auto* sync = state_.budget_sync)
        redis = json::object{
            {"url", sync->address().display}, {"up", sync->up()}, {"replicas", sync->replicas()}};
    return json_response(
        http::status::ok,
        {{"version", TG_VERSION},
         {"config_generation", state_.config_generation},
         {"uptime_seconds", uptime.count()},
         {"connections", connections},
         {"draining", state_.draining},
         {"workers", state_.workers},
         {"redis", std::move(redis)},
         {"maintenance", maintenance_setting_json(runtime_.state().global_maintenance)}},
        request.version());
}

TenantLoads AdminServer::tenant_loads() const {
    TenantLoads loads;
    for (const auto* worker : workers_)
        worker->for_each_tenant([&](const std::string& name, const TenantSeries& series) {
            auto& load = loads[name];
            load.in_flight += series.in_flight.value();
            load.tunnels += series.tunnels.value();
            load.draining += series.draining.value();
        });
    return loads;
}

json::object AdminServer::tenant_json(const config::Tenant& tenant,
                                      const TenantLoads& loads) const {
    const auto found_load = loads.find(tenant.name);
    const TenantLoad load = found_load == loads.end() ? TenantLoad{} : found_load->second;
    const Runtime& runtime = *runtime_.runtime();
    json::array hosts;
    for (const auto& host : tenant.hosts) hosts.emplace_back(host);
    const auto& policy = tenant.policy;
    std::optional<config::Color> switched;
    json::value release = nullptr;
    if (policy.release) {
        const auto state = runtime.state.releases.find(tenant.name);
        json::value switched_at = nullptr;
        if (state != runtime.state.releases.end()) {
            switched = state->second.active;
            switched_at = rfc3339(std::chrono::system_clock::time_point(
                std::chrono::milliseconds(state->second.switched_at_ms)));
        }
        json::value draining = nullptr;
        if (const auto drain = runtime.drains.find(tenant.name); drain != runtime.drains.end())
            draining = json::object{{"color", routing::color_name(drain->second.color)},
                                    {"connections", load.draining},
                                    {"deadline", rfc3339(drain->second.wall_deadline)}};
        release =
            json::object{{"blue", policy.release->blue},
                         {"green", policy.release->green},
                         {"active", routing::color_name(switched.value_or(policy.release->active))},
                         {"configured_active", routing::color_name(policy.release->active)},
                         {"drain_timeout", config::format_duration(policy.release->drain_timeout)},
                         {"switched_at", std::move(switched_at)},
                         {"draining", std::move(draining)}};
    }
    const auto maintenance = runtime.state.tenant_maintenance.find(tenant.name);
    return {{"name", tenant.name},
            {"origin", tenant.origin == config::TenantOrigin::api ? "api" : "file"},
            {"hosts", std::move(hosts)},
            {"pool", policy.release ? json::value(nullptr) : json::value(policy.pool)},
            {"release", std::move(release)},
            {"active_pool", routing::active_pool(policy, switched)},
            {"maintenance", maintenance_json(maintenance == runtime.state.tenant_maintenance.end()
                                                 ? nullptr
                                                 : &maintenance->second)},
            {"limits",
             {{"rate_limit", rate_limit_json(policy.rate_limit)},
              {"per_client_rate_limit", rate_limit_json(policy.per_client_rate_limit)},
              {"max_in_flight", policy.max_in_flight}}},
            {"in_flight", load.in_flight},
            {"tunnels", load.tunnels}};
}

AdminServer::Response AdminServer::tenants(const Request& request) const {
    json::array list;
    list.reserve(state_.snapshot->tenants.size());
    const auto loads = tenant_loads();
    for (const auto& [name, tenant] : state_.snapshot->tenants)
        list.push_back(tenant_json(*tenant, loads));
    json::array templates;
    for (const auto& t : state_.snapshot->tenant_templates)
        templates.push_back(json::object{{"host", t.host}, {"pool", t.policy.pool}});
    return json_response(http::status::ok,
                         {{"tenants", std::move(list)}, {"templates", std::move(templates)}},
                         request.version());
}

AdminServer::Response AdminServer::tenant(const Request& request, std::string_view name) const {
    const auto found = state_.snapshot->tenants.find(name);
    if (found == state_.snapshot->tenants.end())
        return json_response(http::status::not_found,
                             error_body("unknown tenant \"" + std::string(name) + "\""),
                             request.version());
    return json_response(http::status::ok, tenant_json(*found->second, tenant_loads()),
                         request.version());
}

}  // namespace tg::proxy
