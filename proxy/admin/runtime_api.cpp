// The admin API's runtime calls (SPEC §5, §6): maintenance, release switches and the audit
// trail. Each change is decided here and carried out by the server (AdminActions).
#include <boost/json.hpp>
#include <charconv>

#include "config/units.hpp"
#include "proxy/admin/admin_json.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/admin/runtime_requests.hpp"
#include "proxy/observe/ops_log.hpp"
#include "routing/freeze_window.hpp"
#include "routing/release.hpp"

namespace tg::proxy {
namespace {

namespace json = boost::json;

constexpr std::size_t default_audit_limit = 100;
constexpr std::size_t max_audit_limit = 1000;

/// The value of `name` in the query of `target`, if present.
std::optional<std::string_view> query_parameter(std::string_view target, std::string_view name) {
    const auto question = target.find('?');
    if (question == std::string_view::npos) return std::nullopt;
    auto query = target.substr(question + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto equals = pair.find('=');
        if (pair.substr(0, equals) == name)
            return equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
        if (amp == std::string_view::npos) break;
        query = query.substr(amp + 1);
    }
    return std::nullopt;
}

json::object release_change_json(config::Color active, std::optional<config::Duration> timeout) {
    json::object change{{"active", routing::color_name(active)}};
    if (timeout) change["drain_timeout"] = config::format_duration(*timeout);
    return change;
}

}  // namespace

AdminServer::Response AdminServer::audit_lines(const Request& request) const {
    std::size_t limit = default_audit_limit;
    if (const auto text = query_parameter(request.target(), "limit")) {
        const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
        if (ec != std::errc{} || end != text->data() + text->size() || limit < 1 ||
            limit > max_audit_limit)
            return json_response(http::status::bad_request,
                                 error_body("limit must be a whole number from 1 to " +
                                            std::to_string(max_audit_limit)),
                                 request.version());
    }
    return json_response(http::status::ok, {{"entries", audit_.last(limit)}}, request.version());
}

asio::awaitable<AdminServer::Response> AdminServer::set_maintenance(
    const Request& request, const std::optional<std::string>& tenant, AuditEntry& audit) {
    const unsigned version = request.version();
    const auto snapshot = state_.snapshot;  // a reload may replace it while this call waits
    if (tenant && !snapshot->tenants.contains(*tenant))
        co_return json_response(http::status::not_found,
                                error_body("unknown tenant \"" + *tenant + "\""), version);
    const RuntimeState& state = runtime_.state();
    Maintenance before = state.global_maintenance;
    if (tenant) {
        const auto found = state.tenant_maintenance.find(*tenant);
        before = found == state.tenant_maintenance.end() ? Maintenance{} : found->second;
    }
    audit.before = maintenance_setting_json(before);
    std::string error;
    const auto wanted = parse_maintenance_request(request.body(), error);
    if (!wanted) co_return json_response(http::status::bad_request, error_body(error), version);
    audit.after = maintenance_setting_json(*wanted);
    const json::value tenant_value = tenant ? json::value(*tenant) : json::value(nullptr);
    if (wanted->same_setting(before))
        co_return json_response(http::status::ok,
                                {{"result", "unchanged"},
                                 {"tenant", tenant_value},
                                 {"maintenance", maintenance_setting_json(before)}},
                                version);
    if (auto failure = co_await actions_.change_runtime(
            runtime_.with_maintenance(tenant, *wanted, std::chrono::system_clock::now())))
        co_return json_response(http::status::internal_server_error, error_body(*failure), version);
    ops_log::info(wanted->enabled ? "maintenance on" : "maintenance off",
                  {{"tenant", tenant ? *tenant : std::string()}});
    co_return json_response(http::status::ok,
                            {{"result", "updated"},
                             {"tenant", tenant_value},
                             {"maintenance", maintenance_setting_json(*wanted)}},
                            version);
}

asio::awaitable<AdminServer::Response> AdminServer::switch_release(const Request& request,
                                                                   const std::string& tenant,
                                                                   AuditEntry& audit) {
    const unsigned version = request.version();
    const auto snapshot = state_.snapshot;  // a reload may replace it while this call waits
    const auto found = snapshot->tenants.find(tenant);
    if (found == snapshot->tenants.end())
        co_return json_response(http::status::not_found,
                                error_body("unknown tenant \"" + tenant + "\""), version);
    const auto& configured = found->second->policy.release;
    std::string error;
    const auto wanted = parse_release_request(request.body(), error);
    if (wanted && !configured)
        error = "tenant \"" + tenant + "\" has no release (it is served by pool \"" +
                found->second->policy.pool + "\")";
    if (!wanted || !configured)
        co_return json_response(http::status::bad_request, error_body(error), version);

    const auto switched = runtime_.state().releases.find(tenant);
    const config::Color from =
        switched == runtime_.state().releases.end() ? configured->active : switched->second.active;
    const auto drain_timeout = wanted->drain_timeout.value_or(configured->drain_timeout);
    audit.before = release_change_json(from, std::nullopt);
    audit.after = release_change_json(wanted->active, drain_timeout);
    if (from == wanted->active)
        co_return json_response(
            http::status::ok,
            {{"result", "unchanged"},
             {"tenant", tenant},
             {"forced", false},
             {"release", tenant_json(*found->second, tenant_loads()).at("release")}},
            version);

    const auto now = std::chrono::system_clock::now();
    if (const auto freeze = routing::active_freeze_window(snapshot->freeze_windows, now)) {
        if (!wanted->force) {
            const auto until = rfc3339(freeze->ends);
            auto response =
                json_response(http::status::conflict,
                              {{"error", "inside freeze window \"" + std::string(freeze->name) +
                                             "\" until " + until + " (force overrides it)"},
                               {"window", freeze->name},
                               {"until", until}},
                              version);
            co_return response;
        }
        audit.forced = true;
    }
    if (auto failure = co_await actions_.change_runtime(
            runtime_.with_release(tenant, from, wanted->active, drain_timeout, now)))
        co_return json_response(http::status::internal_server_error, error_body(*failure), version);
    ops_log::info("release switched", {{"tenant", tenant},
                                       {"from", std::string(routing::color_name(from))},
                                       {"to", std::string(routing::color_name(wanted->active))},
                                       {"drain_timeout", config::format_duration(drain_timeout)},
                                       {"forced", audit.forced ? "true" : "false", true}});
    co_return json_response(
        http::status::accepted,
        {{"result", "switched"},
         {"tenant", tenant},
         {"forced", audit.forced},
         {"release", tenant_json(*found->second, tenant_loads()).at("release")}},
        version);
}

}  // namespace tg::proxy
