#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "config/load.hpp"

// Every message is pinned with its exact "file:line:col: key.path: message" form (SPEC §1).
// The YAML texts start right after R"( so that their first line is line 1.

using Lines = std::vector<std::string>;

namespace {

tg::config::LoadResult load(std::string_view yaml) {
    return tg::config::load_text(yaml, "t.yaml", "");
}

Lines errors_of(std::string_view yaml) {
    const auto result = load(yaml);
    CHECK_FALSE(result.snapshot);
    Lines lines;
    for (const auto& error : result.errors) lines.push_back(error.to_string());
    return lines;
}

}  // namespace

TEST_CASE("unknown keys are reported at the key", "[config][errors]") {
    CHECK(errors_of(R"(workers: 0
listeners:
  - name: http
    address: 127.0.0.1:8080
    foo: 1
pools:
  p: { web: ["odoo:8069"], balanse: least_conn }
tenants:
  t: { hosts: [a.example], pool: p }
colour: blue
)") == Lines{
           R"(t.yaml:5:5: listeners[0].foo: unknown key "foo")",
           R"(t.yaml:7:28: pools.p.balanse: unknown key "balanse" (did you mean "balance"?))",
           R"(t.yaml:10:1: colour: unknown key "colour")",
       });
}

TEST_CASE("bad durations", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
timeouts:
  client_idle: 75 s
  upstream_connect: 3
  longpolling: -720s
  client_header: 0s
)") == Lines{
           R"(t.yaml:3:16: timeouts.client_idle: invalid duration "75 s" (use e.g. 500ms, 30s, 5m, 1h))",
           R"(t.yaml:4:21: timeouts.upstream_connect: invalid duration "3" (use e.g. 500ms, 30s, 5m, 1h))",
           R"(t.yaml:5:16: timeouts.longpolling: invalid duration "-720s" (use e.g. 500ms, 30s, 5m, 1h))",
           R"(t.yaml:6:18: timeouts.client_header: must be greater than 0)",
       });
}

TEST_CASE("bad sizes and counts", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
limits: { max_header_bytes: 64KB, max_request_body: 0, max_connections: 1e5 }
)") == Lines{
           R"(t.yaml:2:29: limits.max_header_bytes: invalid size "64KB" (use e.g. 512B, 64KiB, 100MiB, 1GiB))",
           R"(t.yaml:2:53: limits.max_request_body: must be at least 1B, got 0)",
           R"(t.yaml:2:73: limits.max_connections: expected an integer, got "1e5")",
       });
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
limits:
  max_header_bytes: 2MiB
)") == Lines{R"(t.yaml:3:21: limits.max_header_bytes: must be between 1KiB and 1MiB, got 2MiB)"});
}

TEST_CASE("an unknown pool is reported at the reference", "[config][errors]") {
    const auto result = load(R"(listeners:
  - { name: http, address: "127.0.0.1:8080" }
pools:
  acme-blue: { web: ["blue:8069"] }
  acme-green: { web: ["green:8069"] }
tenants:
  acme:
    hosts: [erp.acme.com]
    release:
      blue: acme-blu
      green: acme-green
)");
    CHECK_FALSE(result.snapshot);
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].to_string() ==
          R"(t.yaml:10:13: tenants.acme.release.blue: unknown pool "acme-blu")");
    CHECK(result.errors[0].line == 10);
    CHECK(result.errors[0].column == 13);
    CHECK(result.errors[0].path == "tenants.acme.release.blue");
    CHECK(result.warnings ==
          Lines{R"(t.yaml:4:3: pools.acme-blue: not used by any tenant or template)"});

    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
pools: { p: { web: ["odoo:8069"] } }
tenants: { t: { hosts: [a.example], pool: q } }
tenant_templates: [{ host: "{tenant}.example", pool: r }]
)") == Lines{
           R"(t.yaml:3:43: tenants.t.pool: unknown pool "q")",
           R"(t.yaml:4:54: tenant_templates[0].pool: unknown pool "r")",
       });
}

TEST_CASE("a host listed by two tenants names both", "[config][errors]") {
    // The later one in the file is reported, whatever the tenants' alphabetical order.
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
pools: { p: { web: ["odoo:8069"] } }
tenants:
  zeta: { hosts: [erp.acme.com, "*.acme.com"], pool: p }
  alpha: { hosts: [alpha.example, ERP.Acme.com.], pool: p }
  beta: { hosts: [beta.example, beta.example], pool: p }
)") == Lines{
           R"(t.yaml:5:35: tenants.alpha.hosts[1]: host "erp.acme.com" is listed by tenants "zeta" and "alpha")",
           R"(t.yaml:6:33: tenants.beta.hosts[1]: duplicate host "beta.example")",
       });
}

TEST_CASE("a tenant has exactly one of pool and release", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
pools: { p: { web: ["odoo:8069"] }, q: { web: ["odoo2:8069"] } }
tenants:
  both:
    hosts: [both.example]
    pool: p
    release: { blue: p, green: q }
  neither:
    hosts: [neither.example]
  same:
    hosts: [same.example]
    release: { blue: q, green: q, active: purple }
)") == Lines{
           R"(t.yaml:4:3: tenants.both: set either "pool" or "release", not both)",
           R"(t.yaml:8:3: tenants.neither: missing "pool" or "release")",
           R"(t.yaml:12:32: tenants.same.release.green: blue and green must be different pools (both are "q"))",
           R"(t.yaml:12:43: tenants.same.release.active: invalid value "purple" (expected blue | green))",
       });
}

TEST_CASE("a missing pool is reported next to other mistakes of the tenant", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
tenants:
  t: { hosts: ["bad host"] }
)") == Lines{
           R"(t.yaml:3:3: tenants.t: missing "pool" or "release")",
           R"(t.yaml:3:16: tenants.t.hosts[0]: invalid host "bad host")",
       });
}

TEST_CASE("bad CIDRs", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
trusted_proxies: [10.0.0.0/8, 10.0.0.0/33, "fe80::/200"]
maintenance_bypass:
  - 192.0.2.0/24
  - office
)") == Lines{
           R"(t.yaml:2:31: trusted_proxies[1]: invalid CIDR "10.0.0.0/33" (expected e.g. 10.0.0.0/8 or 2001:db8::/32))",
           R"(t.yaml:2:44: trusted_proxies[2]: invalid CIDR "fe80::/200" (expected e.g. 10.0.0.0/8 or 2001:db8::/32))",
           R"(t.yaml:5:5: maintenance_bypass[1]: invalid CIDR "office" (expected e.g. 10.0.0.0/8 or 2001:db8::/32))",
       });
}

TEST_CASE("bad host:port", "[config][errors]") {
    CHECK(errors_of(R"(listeners:
  - { name: http, address: "0.0.0.0" }
admin: { address: "localhost:99999" }
pools:
  shared-eu:
    web: [10.1.0.11:8069, 10.1.0.12, "::1:8069", "odoo:0"]
)") == Lines{
           R"(t.yaml:2:28: listeners[0].address: missing port in "0.0.0.0" (expected host:port))",
           R"(t.yaml:3:19: admin.address: invalid port in "localhost:99999" (expected 0-65535, 0: any free port))",
           R"(t.yaml:6:27: pools.shared-eu.web[1]: missing port in "10.1.0.12" (expected host:port))",
           R"(t.yaml:6:38: pools.shared-eu.web[2]: invalid host in "::1:8069" (expected an IPv4 address, a DNS name or [IPv6]))",
           R"(t.yaml:6:50: pools.shared-eu.web[3]: invalid port in "odoo:0" (expected 1-65535))",
       });
}

TEST_CASE("bad freeze windows", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
freeze_windows:
  - name: month-end
    days_of_month: [-1, 0, 32]
    from: "24:00"
    to: 7:5
    timezone: Europe/Paris
  - { name: month-end, days_of_month: [1], from: "22:00", to: "02:00", timezone: "+02:00" }
  - { days_of_month: [], timezone: "+15:00" }
)") == Lines{
           R"(t.yaml:4:25: freeze_windows[0].days_of_month[1]: invalid day 0 (expected 1..31, or -1..-31 counting back from the month's last day))",
           R"(t.yaml:4:28: freeze_windows[0].days_of_month[2]: invalid day 32 (expected 1..31, or -1..-31 counting back from the month's last day))",
           R"(t.yaml:5:11: freeze_windows[0].from: invalid time "24:00" (expected HH:MM between 00:00 and 23:59))",
           R"(t.yaml:6:9: freeze_windows[0].to: invalid time "7:5" (expected HH:MM between 00:00 and 23:59))",
           R"(t.yaml:7:15: freeze_windows[0].timezone: unsupported timezone "Europe/Paris": only UTC or a fixed offset like "+02:00" is supported)",
           R"(t.yaml:8:13: freeze_windows[1].name: duplicate freeze window name "month-end" (also freeze_windows[0]))",
           R"(t.yaml:9:5: freeze_windows[2]: missing required key "name")",
           R"(t.yaml:9:7: freeze_windows[2].days_of_month: must list at least one day)",
           R"(t.yaml:9:36: freeze_windows[2].timezone: unsupported timezone "+15:00": only UTC or a fixed offset like "+02:00" is supported)",
       });
}

TEST_CASE("fixed-offset timezones are stored in minutes", "[config][errors]") {
    const auto result = load(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
freeze_windows:
  - { name: a, days_of_month: [15], from: "09:30", to: "17:00", timezone: "-05:30" }
  - { name: b, days_of_month: [31], timezone: "+14:00" }
)");
    REQUIRE(result.snapshot);
    const auto& windows = result.snapshot->freeze_windows;
    CHECK(windows[0].utc_offset_minutes == -330);
    CHECK(windows[0].timezone == "-05:30");
    CHECK(windows[0].from_minute == 570);
    CHECK(windows[0].to_minute == 1020);
    CHECK(windows[1].utc_offset_minutes == 840);
    CHECK(windows[1].from_minute == 0);
    CHECK(windows[1].to_minute == 1439);
}

TEST_CASE("all errors are reported together, in file order", "[config][errors]") {
    const auto result = load(R"(workers: -1
access_log: ""
listeners:
  - { name: http, address: "127.0.0.1:8080", redirect_https: yes }
  - { name: http, address: "127.0.0.1:8080" }
state: { redis: "http://cache:6379", rate_limit_on_redis_failure: fail }
pools:
  p:
    web: []
    balance: random
    health_check: { path: web/health, interval: 2s, timeout: 2s, fall: 0 }
tenants:
  t:
    hosts: ["erp.example.com:443", "a.*.example.com", "bad host"]
    pool: p
    rate_limit: { requests_per_second: 0, burst: 0.5 }
    max_in_flight: -1
    odoo_dbfilter_header: sometimes
    database_manager: maybe
)");
    CHECK_FALSE(result.snapshot);
    Lines lines;
    for (const auto& error : result.errors) lines.push_back(error.to_string());
    CHECK(
        lines ==
        Lines{
            R"(t.yaml:1:10: workers: must be between 0 and 1024, got -1)",
            R"(t.yaml:2:13: access_log: must not be empty)",
            R"(t.yaml:4:62: listeners[0].redirect_https: expected true or false, got "yes")",
            R"(t.yaml:5:13: listeners[1].name: duplicate listener name "http" (also listeners[0]))",
            R"(t.yaml:5:28: listeners[1].address: address "127.0.0.1:8080" is already used by listeners[0])",
            R"(t.yaml:6:17: state.redis: expected a redis:// URL, got "http://cache:6379")",
            R"(t.yaml:6:67: state.rate_limit_on_redis_failure: invalid value "fail" (expected local | open | closed))",
            R"(t.yaml:9:5: pools.p.web: at least one endpoint is required)",
            R"(t.yaml:10:14: pools.p.balance: invalid value "random" (expected round_robin | least_conn | cookie_hash))",
            R"(t.yaml:11:27: pools.p.health_check.path: must start with "/", got "web/health")",
            R"(t.yaml:11:62: pools.p.health_check.timeout: timeout 2s must be shorter than interval 2s)",
            R"(t.yaml:11:72: pools.p.health_check.fall: must be between 1 and 2147483647, got 0)",
            R"(t.yaml:14:13: tenants.t.hosts[0]: tenant host "erp.example.com:443" must not include a port)",
            R"(t.yaml:14:36: tenants.t.hosts[1]: invalid host "a.*.example.com": "*" is allowed only as the whole first label, as in "*.example.com")",
            R"(t.yaml:14:55: tenants.t.hosts[2]: invalid host "bad host")",
            R"(t.yaml:16:40: tenants.t.rate_limit.requests_per_second: must be greater than 0, got 0)",
            R"(t.yaml:16:50: tenants.t.rate_limit.burst: must be at least 1, got 0.5)",
            R"(t.yaml:17:20: tenants.t.max_in_flight: must be between 0 and 4294967295, got -1)",
            R"(t.yaml:18:27: tenants.t.odoo_dbfilter_header: expected true or false, got "sometimes")",
            R"(t.yaml:19:23: tenants.t.database_manager: invalid value "maybe" (expected deny | allow))",
        });
    CHECK(result.errors.size() == 20);
}

TEST_CASE("document-level errors", "[config][errors]") {
    CHECK(errors_of("") == Lines{"t.yaml: the configuration is empty"});
    CHECK(errors_of("# only a comment\n") == Lines{"t.yaml: the configuration is empty"});
    CHECK(errors_of("- a\n- b\n") ==
          Lines{"t.yaml:1:1: expected a map of settings at the top level"});
    CHECK(errors_of("workers: 0\n") == Lines{R"(t.yaml:1:1: missing required key "listeners")"});
    CHECK(errors_of("listeners: []\n") ==
          Lines{"t.yaml:1:1: listeners: at least one listener is required"});
    CHECK(errors_of("listeners:\n") ==
          Lines{"t.yaml:1:1: listeners: at least one listener is required"});
    CHECK(errors_of("listeners: {name: http}\n") ==
          Lines{"t.yaml:1:1: listeners: expected a list, got a map"});
    CHECK(errors_of("listeners: [\n  {name: http\n") ==
          Lines{"t.yaml:3:1: YAML syntax error: end of map flow not found"});
    CHECK(errors_of("listeners: []\n---\nworkers: 1\n") ==
          Lines{"t.yaml:1:1: listeners: at least one listener is required",
                "t.yaml:3:1: expected one YAML document, found 2"});
    CHECK(
        errors_of("workers: 1\nworkers: 2\nlisteners: [{ name: a, address: \"127.0.0.1:0\" }]\n") ==
        Lines{R"(t.yaml:2:1: workers: duplicate key "workers")"});
}

// Found by tests/fuzz (config_load): yaml-cpp 0.7's LoadAll never returned on a top-level ','
// (an empty document started again and again, the list of documents growing until memory ran
// out), so `tenantgate check` and a SIGHUP reload hung on such a file.
TEST_CASE("a stray top-level comma is a syntax error, not an endless load", "[config][errors]") {
    CHECK(errors_of(",") == Lines{"t.yaml:1:1: YAML syntax error: unexpected character"});
    CHECK(errors_of("listeners: []\n---\n,\n") ==
          Lines{"t.yaml:3:1: YAML syntax error: unexpected character"});
}

TEST_CASE("listener and TLS errors", "[config][errors]") {
    CHECK(errors_of(R"(listeners:
  - name: a
    address: 127.0.0.1:0
    tls: { certificates: [], min_version: "1.1", hsts: -1 }
  - name: b
    address: 127.0.0.1:0
    tls:
      certificates:
        - { cert: a.pem }
      default_certificate: 1
  - address: "[::1]:9901"
admin:
  address: "[::1]:9901"
)") == Lines{
           R"(t.yaml:4:12: listeners[0].tls.certificates: at least one certificate is required)",
           R"(t.yaml:4:43: listeners[0].tls.min_version: invalid value "1.1" (expected 1.2 | 1.3))",
           R"(t.yaml:4:56: listeners[0].tls.hsts: must be at least 0, got -1)",
           R"(t.yaml:9:11: listeners[1].tls.certificates[0]: missing required key "key")",
           R"(t.yaml:10:28: listeners[1].tls.default_certificate: index 1 is out of range (1 certificate))",
           R"(t.yaml:11:5: listeners[2]: missing required key "name")",
           R"(t.yaml:13:12: admin.address: address "[::1]:9901" is already used by listeners[2])",
       });
}

TEST_CASE("default_certificate out of range", "[config][errors]") {
    CHECK(errors_of(R"(listeners:
  - name: https
    address: 127.0.0.1:0
    tls: { certificates: [{ cert: a.pem, key: a.key }], default_certificate: 1 }
)") == Lines{
           R"(t.yaml:4:78: listeners[0].tls.default_certificate: index 1 is out of range (1 certificate))"});
}

TEST_CASE("pool errors", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
pools:
  p:
    web: [a:8069, b:8069, A:8069]
    longpolling: [a:8072, a:8072]
    health_check: { interval: 1s, timeout: 5s, rise: x }
  q: odoo:8069
  r:
tenants:
  t: { hosts: [t.example], pool: p }
)") == Lines{
           R"(t.yaml:4:27: pools.p.web[2]: duplicate endpoint "A:8069")",
           R"(t.yaml:5:27: pools.p.longpolling[1]: duplicate endpoint "a:8072")",
           R"(t.yaml:6:44: pools.p.health_check.timeout: timeout 5s must be shorter than interval 1s)",
           R"(t.yaml:6:54: pools.p.health_check.rise: expected an integer, got "x")",
           R"(t.yaml:7:6: pools.q: expected a map, got "odoo:8069")",
           R"(t.yaml:8:3: pools.r: missing required key "web")",
       });
}

TEST_CASE("tenant template errors and warnings", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
pools: { p: { web: ["odoo:8069"] } }
tenant_templates:
  - { host: "{tenant}.erp.example.com", pool: p }
  - { host: "{TENANT}.ERP.example.com", pool: p }
  - { host: "{tenant}.Erp.Example.com.", pool: p }
  - { host: "erp.example.com", pool: p }
  - { host: "{tenant}.x.example", release: { blue: p, green: p } }
)") == Lines{
           R"(t.yaml:5:13: tenant_templates[1].host: template host "{TENANT}.ERP.example.com" is already used by tenant_templates[0])",
           R"(t.yaml:6:13: tenant_templates[2].host: invalid template host "{tenant}.Erp.Example.com." (expected "{tenant}." followed by a domain, as in "{tenant}.erp.example.com"))",
           R"(t.yaml:7:13: tenant_templates[3].host: invalid template host "erp.example.com" (expected "{tenant}." followed by a domain, as in "{tenant}.erp.example.com"))",
           R"(t.yaml:8:5: tenant_templates[4]: missing required key "pool")",
           R"(t.yaml:8:35: tenant_templates[4].release: tenant templates take a "pool"; list the tenant under "tenants" to give it a release)",
       });

    const auto shadowed = load(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
pools: { p: { web: ["odoo:8069"] }, spare: { web: ["odoo:8069"] } }
tenants: { all: { hosts: ["*.erp.example.com"], pool: p } }
tenant_templates: [{ host: "{tenant}.erp.example.com", pool: p }]
)");
    REQUIRE(shadowed.snapshot);
    CHECK(
        shadowed.warnings ==
        Lines{
            R"(t.yaml:2:37: pools.spare: not used by any tenant or template)",
            R"(t.yaml:4:28: tenant_templates[0].host: never used: tenant "all" claims "*.erp.example.com", which is matched first)"});
}

TEST_CASE("tenant names must be safe in a dbfilter regex", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
pools: { p: { web: ["odoo:8069"] } }
tenants:
  "acme.*": { hosts: [acme.example], pool: p }
  ok_name-2.x: { hosts: [ok.example], pool: p }
)") == Lines{
           R"(t.yaml:4:3: tenants.acme.*: invalid tenant name "acme.*" (letters, digits, "_", "-" and ".", starting with a letter or digit))",
       });
}

TEST_CASE("a config with no tenants loads with a warning", "[config][errors]") {
    const auto result = load(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
)");
    REQUIRE(result.snapshot);
    CHECK(result.warnings ==
          Lines{"t.yaml: tenants: no tenants or tenant templates: every request will get 404"});
}

TEST_CASE("tenant hosts: empty list, and a TLS listener that redirects", "[config][errors]") {
    CHECK(errors_of(R"(listeners: [{ name: http, address: "127.0.0.1:0" }]
pools: { p: { web: ["odoo:8069"] } }
tenants:
  t: { hosts: [], pool: p }
)") == Lines{R"(t.yaml:4:8: tenants.t.hosts: at least one host is required)"});

    const auto result = load(R"(listeners:
  - name: https
    address: 127.0.0.1:0
    redirect_https: true
    tls: { certificates: [{ cert: a.pem, key: a.key }] }
pools: { p: { web: ["odoo:8069"] } }
tenants: { t: { hosts: ["*.example.com"], pool: p } }
)");
    REQUIRE(result.snapshot);
    CHECK(result.warnings ==
          Lines{R"(t.yaml:4:21: listeners[0].redirect_https: has no effect on a TLS listener)"});
}

TEST_CASE("PROXY protocol keys", "[config][errors]") {
    CHECK(errors_of(R"(listeners:
  - { name: a, address: "127.0.0.1:0", proxy_protocol: 1 }
  - { name: b, address: "127.0.0.1:0", proxy_protocol: true }
pools:
  p: { web: ["odoo:8069"], send_proxy_protocol: v2, send_proxy: true }
tenants: { t: { hosts: [t.example.com], pool: p } }
)") == Lines{
           R"(t.yaml:2:56: listeners[0].proxy_protocol: expected true or false, got "1")",
           R"(t.yaml:3:56: listeners[1].proxy_protocol: needs trusted_proxies: a PROXY header is accepted only from them)",
           R"(t.yaml:5:49: pools.p.send_proxy_protocol: expected true or false, got "v2")",
           R"(t.yaml:5:53: pools.p.send_proxy: unknown key "send_proxy")",
       });
}
