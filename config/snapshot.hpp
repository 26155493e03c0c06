#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/persistent_map.hpp"

/// The validated, immutable configuration (SPEC §2). Built only by config::load_*; after that
/// every field is read-only and the whole object is shared between workers by one pointer.
namespace tg::config {

using Duration = std::chrono::milliseconds;

/// An address family-agnostic network prefix, e.g. 10.0.0.0/8 or 2001:db8::/32.
struct Cidr {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  ///< network bytes; only the first 4 used for IPv4
    int prefix_len = 0;
    std::string text;  ///< as written in the config, for messages and the admin API
};

/// "host:port" from the config; host is an IP literal or a DNS name resolved at run time.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
    std::string text;  ///< original spelling, used as the endpoint label
};

struct CertificateFiles {
    std::string cert;  ///< path, resolved relative to the config file's directory
    std::string key;
};

struct TlsSettings {
    std::vector<CertificateFiles> certificates;
    std::size_t default_certificate = 0;
    std::string min_version = "1.2";  ///< "1.2" or "1.3"
    std::int64_t hsts_seconds = 31536000;
};

struct Listener {
    std::string name;
    HostPort address;
    bool redirect_https = false;
    /// Every connection starts with a PROXY v1/v2 header from a `trusted_proxies` peer.
    bool proxy_protocol = false;
    std::optional<TlsSettings> tls;
};

struct Admin {
    HostPort address{"127.0.0.1", 9901, "127.0.0.1:9901"};
    std::string token_file;  ///< empty: no mutating call is accepted
    bool allow_read_without_token = true;
};

enum class RedisFailurePolicy { local, open, closed };

struct State {
    std::optional<std::string> redis_url;
    std::string key_prefix = "tenantgate:";
    std::string state_file = "tenantgate.state.json";
    RedisFailurePolicy rate_limit_on_redis_failure = RedisFailurePolicy::local;
};

struct Timeouts {
    Duration client_header = std::chrono::seconds(10);
    Duration client_idle = std::chrono::seconds(75);
    Duration upstream_connect = std::chrono::seconds(3);
    Duration upstream_response = std::chrono::seconds(60);
    Duration longpolling = std::chrono::seconds(720);
};

struct Limits {
    std::uint64_t max_header_bytes = 64 * 1024;
    std::uint64_t max_request_body = 128ull * 1024 * 1024;
    std::uint64_t max_connections = 100000;
};

enum class Balance { round_robin, least_conn, cookie_hash };

struct HealthCheck {
    std::string path = "/web/health";
    Duration interval = std::chrono::seconds(5);
    Duration timeout = std::chrono::seconds(2);
    int fall = 3;
    int rise = 2;
};

struct Pool {
    std::string name;
    std::vector<HostPort> web;
    std::vector<HostPort> longpolling;  ///< empty: long-lived routes use `web`
    Balance balance = Balance::round_robin;
    std::optional<HealthCheck> health_check;
    bool send_proxy_protocol = false;  ///< a PROXY v2 header opens every upstream connection
};

struct RateLimit {
    double requests_per_second = 0;
    double burst = 0;
};

enum class Color { blue, green };

struct Release {
    std::string blue;  ///< pool names
    std::string green;
    Color active = Color::blue;
    Duration drain_timeout = std::chrono::seconds(120);
};

/// Everything that governs a tenant's traffic, shared by named tenants and templates.
struct TenantPolicy {
    std::string pool;  ///< set when the tenant has no release
    std::optional<Release> release;
    std::optional<RateLimit> rate_limit;
    std::optional<RateLimit> per_client_rate_limit;
    std::uint32_t max_in_flight = 0;  ///< 0: unlimited
    bool odoo_dbfilter_header = false;
    bool database_manager_allow = false;
};

/// Where a named tenant is defined: the config file, or the admin API (SPEC §6).
enum class TenantOrigin { file, api };

struct Tenant {
    std::string name;
    std::vector<std::string> hosts;  ///< lower-case; "*.example.com" for wildcards
    TenantPolicy policy;
    TenantOrigin origin = TenantOrigin::file;
};

/// Named tenants by name. Each tenant is immutable and shared by every snapshot that serves it,
/// and so is most of the map: a runtime change to one of 20,000 copies a path of the tree.
using Tenants = PersistentMap<std::shared_ptr<const Tenant>>;

/// `{tenant}.erp.example.com`: one DNS label before `suffix` names the tenant.
struct TenantTemplate {
    std::string host;    ///< as written
    std::string suffix;  ///< ".erp.example.com" (lower-case, the part after "{tenant}")
    TenantPolicy policy;
};

struct FreezeWindow {
    std::string name;
    std::vector<int> days_of_month;  ///< 1..31, or -1 = last day, -2 = the day before, ...
    int from_minute = 0;             ///< minutes after local midnight, inclusive
    int to_minute = 24 * 60 - 1;     ///< inclusive; before from_minute: on the next day
    std::string timezone = "UTC";
    int utc_offset_minutes = 0;  ///< "UTC" or "+HH:MM"/"-HH:MM"; named zones are rejected
};

struct Snapshot {
    std::string source;  ///< file path, or "<embedded demo>"
    int workers = 0;     ///< as configured; 0 = one per core
    std::string access_log = "stdout";
    std::string audit_log = "stderr";  ///< "stderr" or a path, reopened on SIGUSR1
    std::vector<Listener> listeners;
    Admin admin;
    State state;
    Timeouts timeouts;
    Limits limits;
    std::vector<Cidr> trusted_proxies;
    std::vector<Cidr> maintenance_bypass;
    std::map<std::string, Pool, std::less<>> pools;
    Tenants tenants;
    std::vector<TenantTemplate> tenant_templates;
    std::vector<FreezeWindow> freeze_windows;
};

}  // namespace tg::config
