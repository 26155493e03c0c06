#include <unistd.h>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/load.hpp"

using namespace std::chrono_literals;
using namespace tg::config;

namespace {

// SPEC §2, verbatim.
constexpr std::string_view spec_example = R"yaml(
workers: 0                      # threads; 0 = one per core
access_log: stdout              # stdout | off | a file path (reopened on SIGUSR1 for logrotate)
listeners:
  - name: http
    address: 0.0.0.0:8080
    redirect_https: false       # true: 308 to https for every request except ACME challenges
    proxy_protocol: false       # true: every connection starts with a PROXY v1/v2 header from a trusted_proxies peer
  - name: https
    address: 0.0.0.0:8443
    tls:
      certificates:             # matched by SNI: exact name first, then wildcard
        - { cert: certs/acme.pem, key: certs/acme.key }
        - { cert: certs/wildcard.erp.example.com.pem, key: certs/wildcard.key }
      default_certificate: 0    # index used when SNI is absent or matches nothing
      min_version: "1.2"        # "1.2" or "1.3"
      hsts: 31536000            # seconds; 0 = no Strict-Transport-Security header
admin:
  address: 127.0.0.1:9901
  token_file: admin.token       # bearer token for every mutating call; file mode must not be world-readable
  allow_read_without_token: true   # GET /metrics /healthz /readyz are always open
state:
  redis: redis://127.0.0.1:6379/0   # optional. Absent: state is local (and kept in state_file)
  key_prefix: "tenantgate:"
  state_file: tenantgate.state.json # local persistence of maintenance/release state across restarts
  rate_limit_on_redis_failure: local  # local (each replica enforces its share) | open | closed
timeouts:
  client_header: 10s            # slow-header clients get 408 and are closed
  client_idle: 75s              # keep-alive idle
  upstream_connect: 3s
  upstream_response: 60s        # web route
  longpolling: 720s             # longpolling/websocket routes (Odoo's own recommendation)
limits:
  max_header_bytes: 64KiB
  max_request_body: 128MiB      # Odoo attachments
  max_connections: 100000
trusted_proxies: [10.0.0.0/8]   # X-Forwarded-For from these peers is extended, from others replaced
maintenance_bypass: [192.0.2.0/24]  # clients that still reach upstreams in maintenance mode
pools:
  shared-eu:                    # a multi-tenant pool: many tenants' databases in one Odoo deployment
    web: [10.1.0.11:8069, 10.1.0.12:8069]
    longpolling: [10.1.0.11:8072, 10.1.0.12:8072]   # empty or absent: long-lived paths go to web
    balance: least_conn         # round_robin | least_conn | cookie_hash (Odoo session_id)
    health_check: { path: /web/health, interval: 5s, timeout: 2s, fall: 3, rise: 2 }
    send_proxy_protocol: false  # true: PROXY v2 header on every upstream connection
  acme-blue:  { web: [odoo-acme-blue.acme.svc:8069],  longpolling: [odoo-acme-blue.acme.svc:8072] }
  acme-green: { web: [odoo-acme-green.acme.svc:8069], longpolling: [odoo-acme-green.acme.svc:8072] }
tenants:
  acme:                         # a dedicated tenant with blue-green pools
    hosts: [erp.acme.com, "*.acme.com"]
    release: { blue: acme-blue, green: acme-green, active: blue, drain_timeout: 120s }
    rate_limit: { requests_per_second: 200, burst: 400 }
    per_client_rate_limit: { requests_per_second: 20, burst: 60 }  # per client IP within the tenant
    max_in_flight: 128
    odoo_dbfilter_header: false  # true: send X-Odoo-dbfilter: ^<tenant>$
    database_manager: deny       # deny (default): /web/database/* answers 403, except to
                                 # maintenance_bypass clients | allow
  globex:
    hosts: [globex.erp.example.com]
    pool: shared-eu
    rate_limit: { requests_per_second: 50, burst: 100 }
tenant_templates:               # hosts not listed above: tenant name taken from the host
  - host: "{tenant}.erp.example.com"
    pool: shared-eu
    rate_limit: { requests_per_second: 50, burst: 100 }
    odoo_dbfilter_header: true
freeze_windows:                 # release switches refused (409) inside these, unless --force
  - { name: month-end-billing, days_of_month: [-2, -1, 1], from: "00:00", to: "23:59", timezone: UTC }
)yaml";

std::string joined(const LoadResult& result) {
    std::string text;
    for (const auto& error : result.errors) text += error.to_string() + "\n";
    for (const auto& warning : result.warnings) text += "warning: " + warning + "\n";
    return text;
}

/// A scratch directory under the system temp dir, removed at scope exit.
struct TempDir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("tg-config-test-" + std::to_string(::getpid()));
    TempDir() { std::filesystem::create_directories(path); }
    ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("the SPEC §2 example loads", "[config][load]") {
    const auto result = load_text(spec_example, "tenantgate.yaml", "/etc/tenantgate");
    INFO(joined(result));
    REQUIRE(result.errors.empty());
    CHECK(result.warnings.empty());
    REQUIRE(result.snapshot);
    const Snapshot& s = *result.snapshot;

    CHECK(s.source == "tenantgate.yaml");
    CHECK(s.workers == 0);
    CHECK(s.access_log == "stdout");

    REQUIRE(s.listeners.size() == 2);
    CHECK(s.listeners[0].name == "http");
    CHECK(s.listeners[0].address.host == "0.0.0.0");
    CHECK(s.listeners[0].address.port == 8080);
    CHECK_FALSE(s.listeners[0].redirect_https);
    CHECK_FALSE(s.listeners[0].proxy_protocol);
    CHECK_FALSE(s.listeners[0].tls);
    REQUIRE(s.listeners[1].tls);
    const TlsSettings& tls = *s.listeners[1].tls;
    REQUIRE(tls.certificates.size() == 2);
    CHECK(tls.certificates[0].cert == "/etc/tenantgate/certs/acme.pem");
    CHECK(tls.certificates[1].key == "/etc/tenantgate/certs/wildcard.key");
    CHECK(tls.default_certificate == 0);
    CHECK(tls.min_version == "1.2");
    CHECK(tls.hsts_seconds == 31536000);

    CHECK(s.admin.address.text == "127.0.0.1:9901");
    CHECK(s.admin.token_file == "/etc/tenantgate/admin.token");
    CHECK(s.admin.allow_read_without_token);

    CHECK(s.state.redis_url == "redis://127.0.0.1:6379/0");
    CHECK(s.state.key_prefix == "tenantgate:");
    CHECK(s.state.state_file == "/etc/tenantgate/tenantgate.state.json");
    CHECK(s.state.rate_limit_on_redis_failure == RedisFailurePolicy::local);

    CHECK(s.timeouts.client_header == 10s);
    CHECK(s.timeouts.client_idle == 75s);
    CHECK(s.timeouts.upstream_connect == 3s);
    CHECK(s.timeouts.upstream_response == 60s);
    CHECK(s.timeouts.longpolling == 720s);
    CHECK(s.limits.max_header_bytes == 64 * 1024);
    CHECK(s.limits.max_request_body == 128ull << 20);
    CHECK(s.limits.max_connections == 100000);

    REQUIRE(s.trusted_proxies.size() == 1);
    CHECK(s.trusted_proxies[0].text == "10.0.0.0/8");
    REQUIRE(s.maintenance_bypass.size() == 1);
    CHECK(s.maintenance_bypass[0].prefix_len == 24);

    REQUIRE(s.pools.size() == 3);
    const Pool& shared = s.pools.at("shared-eu");
    CHECK(shared.name == "shared-eu");
    REQUIRE(shared.web.size() == 2);
    CHECK(shared.web[1].text == "10.1.0.12:8069");
    CHECK(shared.longpolling.size() == 2);
    CHECK(shared.balance == Balance::least_conn);
    REQUIRE(shared.health_check);
    CHECK(shared.health_check->path == "/web/health");
    CHECK(shared.health_check->interval == 5s);
    CHECK(shared.health_check->timeout == 2s);
    CHECK(shared.health_check->fall == 3);
    CHECK(shared.health_check->rise == 2);
    CHECK_FALSE(shared.send_proxy_protocol);
    const Pool& blue = s.pools.at("acme-blue");
    CHECK(blue.web[0].host == "odoo-acme-blue.acme.svc");
    CHECK(blue.longpolling[0].port == 8072);
    CHECK(blue.balance == Balance::round_robin);
    CHECK_FALSE(blue.health_check);

    REQUIRE(s.tenants.size() == 2);
    const Tenant& acme = *s.tenants.at("acme");
    CHECK(acme.hosts == std::vector<std::string>{"erp.acme.com", "*.acme.com"});
    CHECK(acme.policy.pool.empty());
    REQUIRE(acme.policy.release);
    CHECK(acme.policy.release->blue == "acme-blue");
    CHECK(acme.policy.release->green == "acme-green");
    CHECK(acme.policy.release->active == Color::blue);
    CHECK(acme.policy.release->drain_timeout == 120s);
    REQUIRE(acme.policy.rate_limit);
    CHECK(acme.policy.rate_limit->requests_per_second == 200);
    CHECK(acme.policy.rate_limit->burst == 400);
    REQUIRE(acme.policy.per_client_rate_limit);
    CHECK(acme.policy.per_client_rate_limit->burst == 60);
    CHECK(acme.policy.max_in_flight == 128);
    CHECK_FALSE(acme.policy.odoo_dbfilter_header);
    CHECK_FALSE(acme.policy.database_manager_allow);
    const Tenant& globex = *s.tenants.at("globex");
    CHECK(globex.policy.pool == "shared-eu");
    CHECK_FALSE(globex.policy.release);
    CHECK_FALSE(globex.policy.per_client_rate_limit);
    CHECK(globex.policy.max_in_flight == 0);

    REQUIRE(s.tenant_templates.size() == 1);
    CHECK(s.tenant_templates[0].host == "{tenant}.erp.example.com");
    CHECK(s.tenant_templates[0].suffix == ".erp.example.com");
    CHECK(s.tenant_templates[0].policy.pool == "shared-eu");
    CHECK(s.tenant_templates[0].policy.odoo_dbfilter_header);

    REQUIRE(s.freeze_windows.size() == 1);
    const FreezeWindow& freeze = s.freeze_windows[0];
    CHECK(freeze.name == "month-end-billing");
    CHECK(freeze.days_of_month == std::vector<int>{-2, -1, 1});
    CHECK(freeze.from_minute == 0);
    CHECK(freeze.to_minute == 23 * 60 + 59);
    CHECK(freeze.timezone == "UTC");
    CHECK(freeze.utc_offset_minutes == 0);

    CHECK(describe(s) == "2 listeners, 3 pools, 2 tenants, 1 tenant template, 1 freeze window");
}

TEST_CASE("the embedded demo config loads cleanly", "[config][load]") {
    const auto result = load_text(embedded_demo_config(), "<embedded demo>", "");
    INFO(joined(result));
    REQUIRE(result.errors.empty());
    CHECK(result.warnings.empty());
    REQUIRE(result.snapshot);
    const Snapshot& s = *result.snapshot;
    CHECK(s.workers == 0);
    CHECK(s.access_log == "stdout");
    REQUIRE(s.listeners.size() == 1);
    CHECK(s.listeners[0].name == "http");
    CHECK(s.listeners[0].address.text == "127.0.0.1:8080");
    CHECK(s.admin.address.text == "127.0.0.1:9901");
    CHECK(s.admin.token_file.empty());
    CHECK(s.state.state_file == "tenantgate.state.json");
    const Pool& demo = s.pools.at("demo");
    CHECK(demo.web[0].text == "127.0.0.1:8069");
    CHECK(demo.longpolling[0].text == "127.0.0.1:8072");
    CHECK(demo.balance == Balance::round_robin);
    REQUIRE(demo.health_check);
    CHECK(demo.health_check->timeout == 2s);
    const Tenant& tenant = *s.tenants.at("demo");
    CHECK(tenant.hosts == std::vector<std::string>{"localhost", "demo.localhost", "127.0.0.1"});
    CHECK(tenant.policy.pool == "demo");
    CHECK(tenant.policy.rate_limit->requests_per_second == 100);
    CHECK(tenant.policy.rate_limit->burst == 200);
    CHECK(tenant.policy.database_manager_allow);
    REQUIRE(s.tenant_templates.size() == 1);
    CHECK(s.tenant_templates[0].suffix == ".localhost");
    CHECK(s.tenant_templates[0].policy.odoo_dbfilter_header);
    CHECK(describe(s) == "1 listener, 1 pool, 1 tenant, 1 tenant template, 0 freeze windows");
}

TEST_CASE("omitted sections take the snapshot defaults", "[config][load]") {
    const auto result = load_text(R"(
listeners:
  - { name: http, address: "127.0.0.1:0" }
pools:
  p: { web: ["odoo:8069"] }
tenants:
  t: { hosts: [ERP.Example.COM.], pool: p }
)",
                                  "minimal.yaml", "/srv");
    INFO(joined(result));
    REQUIRE(result.snapshot);
    const Snapshot& s = *result.snapshot;
    const Snapshot defaults;
    CHECK(s.admin.address.text == defaults.admin.address.text);
    CHECK(s.admin.token_file.empty());
    CHECK_FALSE(s.state.redis_url);
    CHECK(s.state.state_file == "/srv/tenantgate.state.json");  // beside the config file
    CHECK(s.timeouts.longpolling == defaults.timeouts.longpolling);
    CHECK(s.limits.max_header_bytes == defaults.limits.max_header_bytes);
    CHECK(s.listeners[0].address.port == 0);
    CHECK(s.tenants.at("t")->hosts == std::vector<std::string>{"erp.example.com"});
    CHECK(s.pools.at("p").longpolling.empty());
    CHECK_FALSE(s.pools.at("p").health_check);
    CHECK_FALSE(s.listeners[0].proxy_protocol);
    CHECK_FALSE(s.pools.at("p").send_proxy_protocol);
}

TEST_CASE("PROXY protocol on a listener and towards a pool", "[config][load]") {
    const auto result = load_text(R"(
listeners:
  - { name: lb, address: "127.0.0.1:0", proxy_protocol: true }
  - { name: direct, address: "127.0.0.1:0", proxy_protocol: false }
trusted_proxies: [10.0.0.0/8]
pools:
  p: { web: ["odoo:8069"], send_proxy_protocol: true }
  q: { web: ["odoo:8070"] }
tenants:
  t: { hosts: [t.example.com], pool: p }
  u: { hosts: [u.example.com], pool: q }
)",
                                  "pp.yaml", "/srv");
    INFO(joined(result));
    REQUIRE(result.snapshot);
    const Snapshot& s = *result.snapshot;
    CHECK(s.listeners[0].proxy_protocol);
    CHECK_FALSE(s.listeners[1].proxy_protocol);
    CHECK(s.pools.at("p").send_proxy_protocol);
    CHECK_FALSE(s.pools.at("q").send_proxy_protocol);
}

TEST_CASE("file paths resolve against the config's directory", "[config][load]") {
    const auto result = load_text(R"(
access_log: logs/../access.log
listeners:
  - name: https
    address: "[::]:8443"
    tls: { certificates: [{ cert: /abs/c.pem, key: k.pem }], min_version: "1.3", hsts: 0 }
admin: { address: "127.0.0.1:0", token_file: secret/token }
state: { state_file: /var/lib/tg/state.json }
pools: { p: { web: ["[2001:db8::1]:8069"] } }
tenants: { t: { hosts: ["[::1]"], pool: p } }
)",
                                  "x.yaml", "/etc/tg");
    INFO(joined(result));
    REQUIRE(result.snapshot);
    const Snapshot& s = *result.snapshot;
    CHECK(s.access_log == "/etc/tg/access.log");
    CHECK(s.listeners[0].tls->certificates[0].cert == "/abs/c.pem");
    CHECK(s.listeners[0].tls->certificates[0].key == "/etc/tg/k.pem");
    CHECK(s.listeners[0].tls->min_version == "1.3");
    CHECK(s.listeners[0].tls->hsts_seconds == 0);
    CHECK(s.admin.token_file == "/etc/tg/secret/token");
    CHECK(s.state.state_file == "/var/lib/tg/state.json");
    CHECK(s.pools.at("p").web[0].host == "2001:db8::1");
    CHECK(s.tenants.at("t")->hosts[0] == "[::1]");
}

TEST_CASE("load_file reads a file and resolves paths next to it", "[config][load]") {
    const TempDir dir;
    const auto file = dir.path / "tenantgate.yaml";
    std::ofstream(file) << "access_log: access.log\nlisteners: [{ name: http, address: "
                           "\"127.0.0.1:0\" }]\npools: { p: { web: [\"odoo:8069\"] } }\n"
                           "tenants: { t: { hosts: [a.example], pool: p } }\n";
    const auto result = load_file(file.string());
    INFO(joined(result));
    REQUIRE(result.snapshot);
    CHECK(result.snapshot->source == file.string());
    CHECK(result.snapshot->access_log == (dir.path / "access.log").string());
}

TEST_CASE("load_file reports an unreadable file as one error", "[config][load]") {
    const auto missing = load_file("/nonexistent/tenantgate.yaml");
    CHECK_FALSE(missing.snapshot);
    REQUIRE(missing.errors.size() == 1);
    CHECK(missing.errors[0].to_string() ==
          "/nonexistent/tenantgate.yaml: cannot read file: No such file or directory");

    const TempDir dir;
    const auto directory = load_file(dir.path.string());
    REQUIRE(directory.errors.size() == 1);
    CHECK(directory.errors[0].to_string() ==
          dir.path.string() + ": cannot read file: Is a directory");
}

TEST_CASE("ConfigError::to_string", "[config][load]") {
    CHECK(ConfigError{"a.yaml", 14, 7, "tenants.acme.release.blue", "unknown pool \"x\""}
              .to_string() == "a.yaml:14:7: tenants.acme.release.blue: unknown pool \"x\"");
    CHECK(ConfigError{"a.yaml", 0, 0, "tenants", "no tenants"}.to_string() ==
          "a.yaml: tenants: no tenants");
    CHECK(ConfigError{"a.yaml", 3, 1, "", "YAML syntax error"}.to_string() ==
          "a.yaml:3:1: YAML syntax error");
}
