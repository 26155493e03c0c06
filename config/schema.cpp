#include "config/schema.hpp"

#include <filesystem>
#include <limits>

namespace tg::config::detail {
namespace {

constexpr auto no_max = std::numeric_limits<std::int64_t>::max();

Admin parse_admin(const std::optional<Field>& field, const std::string& base_dir,
                  Diagnostics& diag) {
    Admin admin;
    if (!field) return admin;
    const MapReader map(*field, {"address", "token_file", "allow_read_without_token"}, diag);
    set_if(read_host_port(map.get("address"), true, diag), admin.address);
    if (const auto token_file = read_string(map.get("token_file"), diag)) {
        admin.token_file = resolve_path(base_dir, *token_file);
    }
    set_if(read_bool(map.get("allow_read_without_token"), diag), admin.allow_read_without_token);
    return admin;
}

State parse_state(const std::optional<Field>& field, const std::string& base_dir,
                  Diagnostics& diag) {
    State state;
    // Beside the config file, like every other relative path in it: never the working directory.
    state.state_file = resolve_path(base_dir, state.state_file);
    if (!field) return state;
    const MapReader map(*field,
                        {"redis", "key_prefix", "state_file", "rate_limit_on_redis_failure"}, diag);
    const auto redis = map.get("redis");
    if (const auto url = read_string(redis, diag)) {
        if (url->starts_with("redis://")) {
            state.redis_url = *url;
        } else {
            diag.error(redis->mark, redis->path, "expected a redis:// URL, got " + in_quotes(*url));
        }
    }
    set_if(read_string(map.get("key_prefix"), diag, true), state.key_prefix);
    if (const auto state_file = read_string(map.get("state_file"), diag)) {
        state.state_file = resolve_path(base_dir, *state_file);
    }
    set_if(read_enum<RedisFailurePolicy>(map.get("rate_limit_on_redis_failure"),
                                         {{"local", RedisFailurePolicy::local},
                                          {"open", RedisFailurePolicy::open},
                                          {"closed", RedisFailurePolicy::closed}},
                                         diag),
           state.rate_limit_on_redis_failure);
    return state;
}

Timeouts parse_timeouts(const std::optional<Field>& field, Diagnostics& diag) {
    Timeouts timeouts;
    if (!field) return timeouts;
    const MapReader map(
        *field,
        {"client_header", "client_idle", "upstream_connect", "upstream_response", "longpolling"},
        diag);
    set_if(read_duration(map.get("client_header"), diag), timeouts.client_header);
    set_if(read_duration(map.get("client_idle"), diag), timeouts.client_idle);
    set_if(read_duration(map.get("upstream_connect"), diag), timeouts.upstream_connect);
    set_if(read_duration(map.get("upstream_response"), diag), timeouts.upstream_response);
    set_if(read_duration(map.get("longpolling"), diag), timeouts.longpolling);
    return timeouts;
}

Limits parse_limits(const std::optional<Field>& field, Diagnostics& diag) {
    Limits limits;
    if (!field) return limits;
    const MapReader map(*field, {"max_header_bytes", "max_request_body", "max_connections"}, diag);
    set_if(read_size(map.get("max_header_bytes"), 1024, 1024 * 1024, diag),
           limits.max_header_bytes);
    set_if(
        read_size(map.get("max_request_body"), 1, std::numeric_limits<std::uint64_t>::max(), diag),
        limits.max_request_body);
    set_if(read_int(map.get("max_connections"), 1, no_max, diag), limits.max_connections);
    return limits;
}

}  // namespace

Snapshot parse_snapshot(const YAML::Node& root, const std::string& base_dir, Diagnostics& diag) {
    Snapshot snapshot;
    const MapReader map(root_field(root, diag),
                        {"workers", "access_log", "audit_log", "listeners", "admin", "state",
                         "timeouts", "limits", "trusted_proxies", "maintenance_bypass", "pools",
                         "tenants", "tenant_templates", "freeze_windows"},
                        diag);
    // A sanity bound: a typo must not start a million threads.
    set_if(read_int(map.get("workers"), 0, 1024, diag), snapshot.workers);
    if (const auto access_log = read_string(map.get("access_log"), diag)) {
        const bool special = *access_log == "stdout" || *access_log == "off";
        snapshot.access_log = special ? *access_log : resolve_path(base_dir, *access_log);
    }
    if (const auto audit_log = read_string(map.get("audit_log"), diag)) {
        snapshot.audit_log =
            *audit_log == "stderr" ? *audit_log : resolve_path(base_dir, *audit_log);
    }
    snapshot.listeners = parse_listeners(map.require("listeners"), base_dir, diag);
    snapshot.admin = parse_admin(map.get("admin"), base_dir, diag);
    snapshot.state = parse_state(map.get("state"), base_dir, diag);
    snapshot.timeouts = parse_timeouts(map.get("timeouts"), diag);
    snapshot.limits = parse_limits(map.get("limits"), diag);
    snapshot.trusted_proxies = read_cidr_list(map.get("trusted_proxies"), diag);
    snapshot.maintenance_bypass = read_cidr_list(map.get("maintenance_bypass"), diag);
    snapshot.pools = parse_pools(map.get("pools"), diag);
    snapshot.tenants = parse_tenants(map.get("tenants"), diag);
    snapshot.tenant_templates = parse_tenant_templates(map.get("tenant_templates"), diag);
    snapshot.freeze_windows = parse_freeze_windows(map.get("freeze_windows"), diag);
    return snapshot;
}

std::string resolve_path(const std::string& base_dir, const std::string& path) {
    const std::filesystem::path file(path);
    if (base_dir.empty() || file.is_absolute()) return path;
    return (std::filesystem::path(base_dir) / file).lexically_normal().string();
}

}  // namespace tg::config::detail
