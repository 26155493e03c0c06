#include <algorithm>
#include <cctype>
#include <limits>

#include "config/hosts.hpp"
#include "config/schema.hpp"

namespace tg::config::detail {
namespace {

constexpr auto int_max = std::numeric_limits<int>::max();

/// Odoo's own database-name rule (odoo.service.db.DBNAME_PATTERN): a tenant name becomes the
/// X-Odoo-dbfilter regex "^<tenant>$", a metric label and a URL segment, so it must be inert.
bool is_tenant_name(std::string_view name) {
    const auto allowed = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
    };
    return !name.empty() && std::isalnum(static_cast<unsigned char>(name.front())) != 0 &&
           std::all_of(name.begin(), name.end(), allowed);
}

std::vector<HostPort> parse_endpoints(const std::optional<Field>& field, Diagnostics& diag) {
    std::vector<HostPort> endpoints;
    for (const auto& item : list_items(field, diag)) {
        if (auto endpoint = read_host_port(item, false, diag)) {
            endpoints.push_back(std::move(*endpoint));
        }
    }
    return endpoints;
}

HealthCheck parse_health_check(const Field& field, Diagnostics& diag) {
    HealthCheck check;
    const MapReader map(field, {"path", "interval", "timeout", "fall", "rise"}, diag);
    const auto path_field = map.get("path");
    if (const auto path = read_string(path_field, diag)) {
        if (path->starts_with('/')) {
            check.path = *path;
        } else {
            diag.error(path_field->mark, path_field->path,
                       "must start with \"/\", got " + in_quotes(*path));
        }
    }
    set_if(read_duration(map.get("interval"), diag), check.interval);
    set_if(read_duration(map.get("timeout"), diag), check.timeout);
    set_if(read_int(map.get("fall"), 1, int_max, diag), check.fall);
    set_if(read_int(map.get("rise"), 1, int_max, diag), check.rise);
    return check;
}

Pool parse_pool(std::string name, const Field& field, Diagnostics& diag) {
    Pool pool;
    pool.name = std::move(name);
    const MapReader map(
        field, {"web", "longpolling", "balance", "health_check", "send_proxy_protocol"}, diag);
    pool.web = parse_endpoints(map.require("web"), diag);
    pool.longpolling = parse_endpoints(map.get("longpolling"), diag);
    set_if(read_enum<Balance>(map.get("balance"),
                              {{"round_robin", Balance::round_robin},
                               {"least_conn", Balance::least_conn},
                               {"cookie_hash", Balance::cookie_hash}},
                              diag),
           pool.balance);
    if (const auto check = map.get("health_check"))
        pool.health_check = parse_health_check(*check, diag);
    set_if(read_bool(map.get("send_proxy_protocol"), diag), pool.send_proxy_protocol);
    return pool;
}

RateLimit parse_rate_limit(const Field& field, Diagnostics& diag) {
    RateLimit limit;
    const MapReader map(field, {"requests_per_second", "burst"}, diag);
    set_if(read_positive_number(map.require("requests_per_second"), diag),
           limit.requests_per_second);
    const auto burst_field = map.require("burst");
    if (const auto burst = read_positive_number(burst_field, diag)) {
        // A bucket smaller than one token would refuse every request.
        if (*burst >= 1) {
            limit.burst = *burst;
        } else {
            diag.error(burst_field->mark, burst_field->path,
                       "must be at least 1, got " + burst_field->node.Scalar());
        }
    }
    return limit;
}

Release parse_release(const Field& field, Diagnostics& diag) {
    Release release;
    const MapReader map(field, {"blue", "green", "active", "drain_timeout"}, diag);
    set_if(read_string(map.require("blue"), diag), release.blue);
    set_if(read_string(map.require("green"), diag), release.green);
    set_if(
        read_enum<Color>(map.get("active"), {{"blue", Color::blue}, {"green", Color::green}}, diag),
        release.active);
    // 0 is meaningful: close the old color's tunnels at once.
    set_if(read_duration(map.get("drain_timeout"), diag, true), release.drain_timeout);
    return release;
}

/// The keys shared by named tenants and templates (everything but hosts and release).
void parse_policy(const MapReader& map, TenantPolicy& policy, Diagnostics& diag) {
    set_if(read_string(map.get("pool"), diag), policy.pool);
    if (const auto limit = map.get("rate_limit"))
        policy.rate_limit = parse_rate_limit(*limit, diag);
    if (const auto limit = map.get("per_client_rate_limit")) {
        policy.per_client_rate_limit = parse_rate_limit(*limit, diag);
    }
    set_if(read_int(map.get("max_in_flight"), 0, std::numeric_limits<std::uint32_t>::max(), diag),
           policy.max_in_flight);
    set_if(read_bool(map.get("odoo_dbfilter_header"), diag), policy.odoo_dbfilter_header);
    const auto manager =
        read_choice(map.get("database_manager"),
                    std::initializer_list<std::string_view>{"deny", "allow"}, diag);
    if (manager) policy.database_manager_allow = *manager == 1;
}

Tenant parse_tenant(std::string name, const Field& field, Diagnostics& diag) {
    Tenant tenant;
    tenant.name = std::move(name);
    const MapReader map(field,
                        {"hosts", "pool", "release", "rate_limit", "per_client_rate_limit",
                         "max_in_flight", "odoo_dbfilter_header", "database_manager"},
                        diag);
    for (const auto& item : list_items(map.require("hosts"), diag)) {
        const auto text = read_string(item, diag);
        if (!text) continue;
        auto host = normalize_host_pattern(*text);
        if (host.problem.empty()) {
            tenant.hosts.push_back(std::move(host.value));
        } else {
            diag.error(item.mark, item.path, std::move(host.problem));
        }
    }
    map.require_one_of("pool", "release");
    parse_policy(map, tenant.policy, diag);
    if (const auto release = map.get("release"))
        tenant.policy.release = parse_release(*release, diag);
    return tenant;
}

TenantTemplate parse_template(const Field& field, Diagnostics& diag) {
    TenantTemplate tenant_template;
    const MapReader map(field,
                        {"host", "pool", "release", "rate_limit", "per_client_rate_limit",
                         "max_in_flight", "odoo_dbfilter_header", "database_manager"},
                        diag);
    const auto host_field = map.require("host");
    if (const auto host = read_string(host_field, diag)) {
        auto suffix = template_suffix(*host);
        if (suffix.problem.empty()) {
            tenant_template.host = *host;
            tenant_template.suffix = std::move(suffix.value);
        } else {
            diag.error(host_field->mark, host_field->path, std::move(suffix.problem));
        }
    }
    // Blue-green is switched per named tenant through the admin API; a template has no name.
    if (const auto release = map.get("release")) {
        diag.error(release->mark, release->path,
                   "tenant templates take a \"pool\"; list the tenant under \"tenants\" to give it "
                   "a release");
    }
    map.require("pool");
    parse_policy(map, tenant_template.policy, diag);
    return tenant_template;
}

}  // namespace

std::map<std::string, Pool, std::less<>> parse_pools(const std::optional<Field>& field,
                                                     Diagnostics& diag) {
    std::map<std::string, Pool, std::less<>> pools;
    for (const auto& [name, value] : named_entries(field, diag)) {
        pools.emplace(name, parse_pool(name, value, diag));
    }
    return pools;
}

Tenants parse_tenants(const std::optional<Field>& field, Diagnostics& diag) {
    Tenants tenants;
    for (const auto& [name, value] : named_entries(field, diag)) {
        if (!is_tenant_name(name)) {
            diag.error(value.mark, value.path,
                       "invalid tenant name " + in_quotes(name) +
                           " (letters, digits, \"_\", \"-\" and \".\", starting with a letter "
                           "or digit)");
        }
        tenants.emplace(name, std::make_shared<const Tenant>(parse_tenant(name, value, diag)));
    }
    return tenants;
}

std::vector<TenantTemplate> parse_tenant_templates(const std::optional<Field>& field,
                                                   Diagnostics& diag) {
    std::vector<TenantTemplate> templates;
    for (const auto& item : list_items(field, diag))
        templates.push_back(parse_template(item, diag));
    return templates;
}

}  // namespace tg::config::detail
