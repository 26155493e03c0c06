#include "routing/host_table.hpp"

#include <catch2/catch.hpp>
#include <string>

using tg::routing::HostTable;

namespace {

tg::config::Snapshot make_snapshot() {
    tg::config::Snapshot snapshot;
    const auto add_tenant = [&](std::string name, std::vector<std::string> hosts) {
        tg::config::Tenant tenant;
        tenant.name = name;
        tenant.hosts = std::move(hosts);
        tenant.policy.pool = name + "-pool";
        snapshot.tenants.emplace(name,
                                 std::make_shared<const tg::config::Tenant>(std::move(tenant)));
    };
    add_tenant("acme", {"erp.acme.com", "*.acme.com"});
    add_tenant("acme-eu", {"*.eu.acme.com"});
    add_tenant("acme-shop", {"shop.eu.acme.com"});
    add_tenant("globex", {"globex.erp.example.com"});
    add_tenant("local", {"[::1]", "127.0.0.1"});
    tg::config::TenantTemplate shared;
    shared.host = "{tenant}.erp.example.com";
    shared.suffix = ".erp.example.com";
    shared.policy.pool = "shared-eu";
    shared.policy.odoo_dbfilter_header = true;
    snapshot.tenant_templates.push_back(shared);
    tg::config::TenantTemplate us = shared;
    us.host = "{tenant}.us.example.com";
    us.suffix = ".us.example.com";
    us.policy.pool = "shared-us";
    snapshot.tenant_templates.push_back(us);
    return snapshot;
}

/// "name pool" of the match, or "-" for no match.
std::string lookup(const HostTable& table, std::string_view host) {
    const auto match = table.match(host);
    if (!match) return "-";
    return std::string(match->name) + " " + match->policy->pool +
           (match->from_template ? " (template)" : "");
}

}  // namespace

TEST_CASE("HostTable: exact hosts beat wildcards", "[routing][host_table]") {
    const auto snapshot = make_snapshot();
    const HostTable table(snapshot);
    CHECK(lookup(table, "erp.acme.com") == "acme acme-pool");
    CHECK(lookup(table, "shop.eu.acme.com") == "acme-shop acme-shop-pool");
    CHECK(lookup(table, "[::1]") == "local local-pool");
    CHECK(lookup(table, "127.0.0.1") == "local local-pool");
    const auto match = table.match("erp.acme.com");
    REQUIRE(match);
    CHECK(match->policy == &snapshot.tenants.at("acme")->policy);
    CHECK(match->name.data() == snapshot.tenants.at("acme")->name.data());
}

TEST_CASE("HostTable: wildcards cover one or more labels, longest first", "[routing][host_table]") {
    const auto snapshot = make_snapshot();
    const HostTable table(snapshot);
    CHECK(lookup(table, "www.acme.com") == "acme acme-pool");
    CHECK(lookup(table, "a.b.c.acme.com") == "acme acme-pool");
    CHECK(lookup(table, "x.eu.acme.com") == "acme-eu acme-eu-pool");
    CHECK(lookup(table, "y.x.eu.acme.com") == "acme-eu acme-eu-pool");
    CHECK(lookup(table, "eu.acme.com") == "acme acme-pool");  // one label before .acme.com
    CHECK(lookup(table, "acme.com") == "-");
    CHECK(lookup(table, ".acme.com") == "-");
    CHECK(lookup(table, "notacme.com") == "-");
    CHECK(lookup(table, "acme.com.evil.org") == "-");
    CHECK(lookup(table, "com") == "-");
    CHECK(lookup(table, "") == "-");
}

TEST_CASE("HostTable: templates name the tenant after one DNS label", "[routing][host_table]") {
    const auto snapshot = make_snapshot();
    const HostTable table(snapshot);
    CHECK(lookup(table, "initech.erp.example.com") == "initech shared-eu (template)");
    CHECK(lookup(table, "initech.us.example.com") == "initech shared-us (template)");
    CHECK(lookup(table, "a.erp.example.com") == "a shared-eu (template)");
    CHECK(lookup(table, "my-firm-2.erp.example.com") == "my-firm-2 shared-eu (template)");
    CHECK(lookup(table, std::string(63, 'x') + ".erp.example.com") ==
          std::string(63, 'x') + " shared-eu (template)");
    // Exact beats template.
    CHECK(lookup(table, "globex.erp.example.com") == "globex globex-pool");

    const std::string host = "initech.erp.example.com";
    const auto match = table.match(host);
    REQUIRE(match);
    CHECK(match->from_template);
    CHECK(match->name.data() == host.data());
    CHECK(match->policy == &snapshot.tenant_templates[0].policy);
    CHECK(match->policy->odoo_dbfilter_header);
}

TEST_CASE("HostTable: template labels follow the DNS label rules", "[routing][host_table]") {
    const auto snapshot = make_snapshot();
    const HostTable table(snapshot);
    CHECK(lookup(table, "erp.example.com") == "-");
    CHECK(lookup(table, ".erp.example.com") == "-");
    CHECK(lookup(table, "a.b.erp.example.com") == "-");  // two labels
    CHECK(lookup(table, "-acme.erp.example.com") == "-");
    CHECK(lookup(table, "acme-.erp.example.com") == "-");
    CHECK(lookup(table, "ac_me.erp.example.com") == "-");
    CHECK(lookup(table, "ac!me.erp.example.com") == "-");
    CHECK(lookup(table, std::string(64, 'x') + ".erp.example.com") == "-");
    CHECK(lookup(table, "initech.other.example.com") == "-");
    CHECK(lookup(table, "initech.erp.example.com.evil") == "-");
}

TEST_CASE("HostTable: a template label cannot take a named tenant's name",
          "[routing][host_table]") {
    const auto snapshot = make_snapshot();
    const HostTable table(snapshot);
    CHECK(lookup(table, "acme.erp.example.com") == "-");
    CHECK(lookup(table, "local.us.example.com") == "-");
}

TEST_CASE("HostTable: a wildcard is matched before a template of the same domain",
          "[routing][host_table]") {
    auto snapshot = make_snapshot();
    tg::config::Tenant catch_all;
    catch_all.name = "catch-all";
    catch_all.hosts = {"*.us.example.com"};
    catch_all.policy.pool = "catch-all-pool";
    snapshot.tenants.emplace("catch-all", std::make_shared<const tg::config::Tenant>(catch_all));
    const HostTable table(snapshot);
    CHECK(lookup(table, "initech.us.example.com") == "catch-all catch-all-pool");
    CHECK(lookup(table, "initech.erp.example.com") == "initech shared-eu (template)");
}

TEST_CASE("HostTable: an empty snapshot matches nothing", "[routing][host_table]") {
    const tg::config::Snapshot snapshot;
    const HostTable table(snapshot);
    CHECK_FALSE(table.match("erp.acme.com"));
    CHECK_FALSE(table.match("x"));
}

TEST_CASE("HostTable: owner names who claims a host as written", "[routing][host_table]") {
    const auto snapshot = make_snapshot();
    const HostTable table(snapshot);
    CHECK(table.owner("erp.acme.com") == "acme");
    CHECK(table.owner("*.acme.com") == "acme");
    CHECK(table.owner("*.eu.acme.com") == "acme-eu");
    // Matched by a wildcard, but nobody lists it: a new tenant may claim it exactly.
    CHECK_FALSE(table.owner("shop.acme.com"));
    CHECK_FALSE(table.owner("*.erp.example.com"));  // a template's domain, no tenant's
    CHECK_FALSE(table.owner("initech.erp.example.com"));
}
