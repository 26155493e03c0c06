#include <catch2/catch.hpp>
#include <string>

#include "config/load.hpp"
#include "config/runtime_tenants.hpp"
#include "routing/host_table.hpp"

using namespace std::chrono_literals;
using namespace tg::config;

namespace {

constexpr std::string_view file_config = R"yaml(
listeners: [{ name: http, address: 127.0.0.1:8080 }]
pools:
  shared: { web: [127.0.0.1:8069] }
  blue: { web: [127.0.0.1:9069] }
  green: { web: [127.0.0.1:9070] }
tenants:
  acme: { hosts: [erp.acme.com, "*.acme.com"], pool: shared }
)yaml";

std::shared_ptr<const Snapshot> file_snapshot() {
    auto loaded = load_text(file_config, "test.yaml", "");
    REQUIRE(loaded.errors.empty());
    return loaded.snapshot;
}

/// The JSON body as the admin API hands it over: JSON is YAML.
YAML::Node definition(const std::string& json) {
    return YAML::Load(json);
}

std::shared_ptr<const Tenant> parsed(std::string_view name, const std::string& json) {
    std::vector<ConfigError> errors;
    auto tenant = parse_runtime_tenant(name, definition(json), errors);
    INFO((errors.empty() ? "" : errors.front().path + ": " + errors.front().message));
    REQUIRE(tenant);
    return tenant;
}

/// check_runtime_tenant against the host table of `snapshot`, as the admin API calls it.
TenantFit fit_of(const Snapshot& snapshot, const std::shared_ptr<const Tenant>& tenant) {
    const tg::routing::HostTable table(snapshot);
    return check_runtime_tenant(snapshot, *tenant,
                                [&](std::string_view host) { return table.owner(host); });
}

std::vector<std::string> error_lines(std::string_view name, const std::string& json) {
    std::vector<ConfigError> errors;
    CHECK_FALSE(parse_runtime_tenant(name, definition(json), errors));
    std::vector<std::string> lines;
    for (const auto& e : errors) {
        CHECK(e.line == 0);  // no file, no position
        lines.push_back(e.path + ": " + e.message);
    }
    return lines;
}

}  // namespace

TEST_CASE("a runtime tenant reads like tenants.NAME of the file", "[config][runtime_tenants]") {
    const Tenant tenant = *parsed("globex", R"({"hosts":["ERP.Globex.com.","globex.example.org"],
        "pool":"shared","rate_limit":{"requests_per_second":50,"burst":100},
        "max_in_flight":8,"odoo_dbfilter_header":true,"database_manager":"allow"})");
    CHECK(tenant.name == "globex");
    CHECK(tenant.origin == TenantOrigin::api);
    CHECK(tenant.hosts == std::vector<std::string>{"erp.globex.com", "globex.example.org"});
    CHECK(tenant.policy.pool == "shared");
    REQUIRE(tenant.policy.rate_limit);
    CHECK(tenant.policy.rate_limit->burst == 100);
    CHECK(tenant.policy.max_in_flight == 8);
    CHECK(tenant.policy.odoo_dbfilter_header);
    CHECK(tenant.policy.database_manager_allow);

    const Tenant release = *parsed("initech", R"({"hosts":["initech.com"],
        "release":{"blue":"blue","green":"green","active":"green","drain_timeout":"5s"}})");
    REQUIRE(release.policy.release);
    CHECK(release.policy.release->active == Color::green);
    CHECK(release.policy.release->drain_timeout == 5s);
}

TEST_CASE("a runtime tenant's errors are the file's, with key paths and no position",
          "[config][runtime_tenants]") {
    CHECK(error_lines("globex", R"({"hosts":["a.example.com"],"pool":"shared",
        "rate_limit":{"requests_per_second":5,"burst":0.5},"max_in_fligt":3})") ==
          std::vector<std::string>{
              "tenants.globex.rate_limit.burst: must be at least 1, got 0.5",
              "tenants.globex.max_in_fligt: unknown key \"max_in_fligt\" (did you mean "
              "\"max_in_flight\"?)"});
    CHECK(error_lines("globex", R"({"hosts":[],"pool":"shared"})") ==
          std::vector<std::string>{"tenants.globex.hosts: at least one host is required"});
    CHECK(error_lines("globex", R"({"hosts":["a.com","A.com"]})") ==
          std::vector<std::string>{"tenants.globex: missing \"pool\" or \"release\"",
                                   "tenants.globex.hosts[1]: duplicate host \"a.com\""});
    CHECK(error_lines("bad name", R"({"hosts":["a.com"],"pool":"shared"})")
              .front()
              .starts_with("tenants.bad name: invalid tenant name"));
    CHECK(error_lines("globex", R"(["a.com"])") ==
          std::vector<std::string>{"tenants.globex: expected a map, got a list"});
}

TEST_CASE("a runtime tenant must name existing pools and claim free hosts",
          "[config][runtime_tenants]") {
    const auto snapshot = file_snapshot();

    SECTION("fits") {
        const auto fit =
            fit_of(*snapshot, parsed("globex", R"({"hosts":["globex.com"],"pool":"shared"})"));
        CHECK(fit.errors.empty());
        CHECK(fit.conflict_with.empty());
    }
    SECTION("unknown pool: an error of the definition") {
        const auto fit =
            fit_of(*snapshot,
                   parsed("globex",
                          R"({"hosts":["globex.com"],"release":{"blue":"blue","green":"gren"}})"));
        REQUIRE(fit.errors.size() == 1);
        CHECK(fit.errors[0].path == "tenants.globex.release.green");
        CHECK(fit.errors[0].message == "unknown pool \"gren\"");
    }
    SECTION("a host of another tenant: a conflict naming it") {
        const auto fit =
            fit_of(*snapshot,
                   parsed("globex", R"({"hosts":["globex.com","*.acme.com"],"pool":"shared"})"));
        CHECK(fit.errors.empty());
        CHECK(fit.conflict_with == "acme");
        CHECK(fit.conflict ==
              "tenants.globex.hosts[1]: host \"*.acme.com\" is listed by tenants \"acme\" and "
              "\"globex\"");
    }
    SECTION("the name of a file tenant: a conflict") {
        const auto fit =
            fit_of(*snapshot, parsed("acme", R"({"hosts":["acme.org"],"pool":"shared"})"));
        CHECK(fit.conflict_with == "acme");
        CHECK(fit.conflict.find("config file") != std::string::npos);
    }
    SECTION("replacing a runtime tenant may keep its own hosts") {
        Tenants runtime;
        runtime.emplace("globex", parsed("globex", R"({"hosts":["globex.com"],"pool":"shared"})"));
        const auto merged = merge_runtime_tenants(*snapshot, runtime);
        const auto fit =
            fit_of(*merged.snapshot, parsed("globex", R"({"hosts":["globex.com"],"pool":"blue"})"));
        CHECK(fit.errors.empty());
        CHECK(fit.conflict_with.empty());
    }
}

TEST_CASE("runtime tenants merge over the file's, the file winning a conflict",
          "[config][runtime_tenants]") {
    const auto snapshot = file_snapshot();
    Tenants runtime;
    runtime.emplace("globex", parsed("globex", R"({"hosts":["globex.com"],"pool":"shared"})"));
    runtime.emplace("acme", parsed("acme", R"({"hosts":["acme.org"],"pool":"shared"})"));
    runtime.emplace("hooli", parsed("hooli", R"({"hosts":["erp.acme.com"],"pool":"shared"})"));
    runtime.emplace("zeta", parsed("zeta", R"({"hosts":["globex.com"],"pool":"shared"})"));
    runtime.emplace("gone", parsed("gone", R"({"hosts":["gone.com"],"pool":"removed"})"));

    const auto merged = merge_runtime_tenants(*snapshot, runtime);
    const auto& tenants = merged.snapshot->tenants;
    REQUIRE(tenants.size() == 2);
    CHECK(tenants.at("acme")->origin == TenantOrigin::file);
    CHECK(tenants.at("acme")->hosts.front() == "erp.acme.com");
    CHECK(tenants.at("globex")->origin == TenantOrigin::api);
    CHECK(merged.snapshot->pools.size() == snapshot->pools.size());
    CHECK(merged.problems ==
          std::vector<std::string>{
              "tenants.acme: defined in the config file and through the admin API; the config "
              "file's definition is used",
              "tenants.gone.pool: unknown pool \"removed\"; the tenant added through the admin "
              "API is not served",
              "tenants.hooli.hosts[0]: host \"erp.acme.com\" is listed by tenants \"acme\" and "
              "\"hooli\"; the tenant added through the admin API is not served",
              "tenants.zeta.hosts[0]: host \"globex.com\" is listed by tenants \"globex\" and "
              "\"zeta\"; the tenant added through the admin API is not served"});
    // The file's snapshot is left as it was.
    CHECK(snapshot->tenants.size() == 1);
}
