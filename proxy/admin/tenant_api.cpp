// The admin API's runtime tenants (SPEC §6): PUT and DELETE /api/v1/tenants/NAME. A definition
// is checked by the config file's own code against what is served now (the file's tenants and
// the other runtime ones), then carried out by the server like any runtime change: persisted,
// shared with the other replicas, in effect on every worker.
#include <boost/json.hpp>

#include "config/runtime_tenants.hpp"
#include "proxy/admin/admin_json.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/admin/tenant_definition.hpp"
#include "proxy/observe/ops_log.hpp"

namespace tg::proxy {
namespace {

namespace json = boost::json;

/// The runtime tenant's definition, nullptr when there is none (a removed one included).
const RuntimeTenant* live_tenant(const RuntimeState& state, std::string_view tenant) {
    const auto found = state.tenants.find(tenant);
    return found == state.tenants.end() || found->second.removed() ? nullptr : &found->second;
}

json::value definition_json(const RuntimeState& state, std::string_view tenant) {
    const RuntimeTenant* found = live_tenant(state, tenant);
    return found ? json::parse(found->definition) : json::value(nullptr);
}

http::response<http::string_body> file_tenant_conflict(const std::string& tenant,
                                                       unsigned version) {
    return json_response(
        http::status::conflict,
        {{"error", "tenant \"" + tenant + "\" is defined in the config file; change it there"},
         {"conflict_with", tenant}},
        version);
}

http::response<http::string_body> invalid_definition(const std::vector<config::ConfigError>& errors,
                                                     unsigned version) {
    json::array list;
    for (const auto& e : errors) list.emplace_back(e.path + ": " + e.message);
    return json_response(http::status::bad_request,
                         {{"error", "invalid tenant definition"}, {"errors", std::move(list)}},
                         version);
}

}  // namespace

asio::awaitable<AdminServer::Response> AdminServer::put_tenant(const Request& request,
                                                               const std::string& tenant,
                                                               AuditEntry& audit) {
    const unsigned version = request.version();
    // What is served, and its host table: a reload may replace them while this call waits.
    const auto generation = state_.generation;
    const auto& snapshot = generation->snapshot();
    if (const auto found = snapshot->tenants.find(tenant);
        found != snapshot->tenants.end() && found->second->origin == config::TenantOrigin::file)
        co_return file_tenant_conflict(tenant, version);
    const RuntimeTenant* existing = live_tenant(runtime_.state(), tenant);
    audit.before = definition_json(runtime_.state(), tenant);
    // `If-None-Match: *` (ctl tenant add): create only, never replace (RFC 9110 §13.1.2).
    if (request[http::field::if_none_match] == "*" && existing)
        co_return json_response(http::status::precondition_failed,
                                error_body("tenant \"" + tenant + "\" already exists"), version);

    std::string error;
    const auto definition = tenant_definition_from_json(request.body(), error);
    if (!definition) co_return json_response(http::status::bad_request, error_body(error), version);
    audit.after = json::parse(definition->json);
    std::vector<config::ConfigError> errors;
    const auto parsed = config::parse_runtime_tenant(tenant, definition->yaml, errors);
    if (!parsed) co_return invalid_definition(errors, version);
    const auto fit = config::check_runtime_tenant(
        *snapshot, *parsed, [&](std::string_view host) { return generation->hosts().owner(host); });
    if (!fit.errors.empty()) co_return invalid_definition(fit.errors, version);
    if (!fit.conflict_with.empty())
        co_return json_response(http::status::conflict,
                                {{"error", fit.conflict}, {"conflict_with", fit.conflict_with}},
                                version);

    const auto served = [&]() -> json::value {
        const auto found = state_.snapshot->tenants.find(tenant);
        if (found == state_.snapshot->tenants.end()) return nullptr;
        return tenant_json(*found->second, tenant_loads());
    };
    const bool created = !existing;
    if (!created && existing->definition == definition->json)
        co_return json_response(http::status::ok, {{"result", "unchanged"}, {"tenant", served()}},
                                version);
    if (auto failure = co_await actions_.change_runtime(
            runtime_.with_tenant(tenant, definition->json, std::chrono::system_clock::now())))
        co_return json_response(http::status::internal_server_error, error_body(*failure), version);
    ops_log::info(created ? "tenant added" : "tenant replaced", {{"tenant", tenant}});
    // Checked against what was served a moment ago, on this control thread: it is served now.
    co_return json_response(created ? http::status::created : http::status::ok,
                            {{"result", created ? "created" : "replaced"}, {"tenant", served()}},
                            version);
}

asio::awaitable<AdminServer::Response> AdminServer::delete_tenant(const Request& request,
                                                                  const std::string& tenant,
                                                                  AuditEntry& audit) {
    const unsigned version = request.version();
    if (const auto found = state_.snapshot->tenants.find(tenant);
        found != state_.snapshot->tenants.end() &&
        found->second->origin == config::TenantOrigin::file)
        co_return file_tenant_conflict(tenant, version);
    if (!live_tenant(runtime_.state(), tenant))
        co_return json_response(http::status::not_found,
                                error_body("unknown tenant \"" + tenant + "\""), version);
    audit.before = definition_json(runtime_.state(), tenant);
    if (auto failure = co_await actions_.change_runtime(
            runtime_.with_tenant(tenant, std::nullopt, std::chrono::system_clock::now())))
        co_return json_response(http::status::internal_server_error, error_body(*failure), version);
    ops_log::info("tenant removed", {{"tenant", tenant}});
    json::value draining = nullptr;
    if (const auto drain = runtime_.runtime()->drains.find(tenant);
        drain != runtime_.runtime()->drains.end())
        draining = json::object{{"deadline", rfc3339(drain->second.wall_deadline)}};
    co_return json_response(
        http::status::ok,
        {{"result", "removed"}, {"tenant", tenant}, {"draining", std::move(draining)}}, version);
}

}  // namespace tg::proxy
