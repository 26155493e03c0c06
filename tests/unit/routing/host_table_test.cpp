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

namespace {

std::shared_ptr<const tg::config::Tenant> tenant_of(std::string name,
                                                    std::vector<std::string> hosts,
                                                    std::string pool = "shared") {
    tg::config::Tenant tenant;
    tenant.name = std::move(name);
    tenant.hosts = std::move(hosts);
    tenant.policy.pool = std::move(pool);
    return std::make_shared<const tg::config::Tenant>(std::move(tenant));
}

}  // namespace

TEST_CASE("HostTable: put and remove change a copy, not the table it came from",
          "[routing][host_table]") {
    const auto snapshot = make_snapshot();
    const HostTable before(snapshot);
    HostTable after = before;
    after.put(tenant_of("initech", {"erp.initech.com", "*.initech.org"}));
    after.remove("globex");
    CHECK(lookup(after, "erp.initech.com") == "initech shared");
    CHECK(lookup(after, "www.initech.org") == "initech shared");
    CHECK(lookup(after, "globex.erp.example.com") == "globex shared-eu (template)");
    CHECK(after.owner("*.initech.org") == "initech");
    CHECK_FALSE(after.owner("globex.erp.example.com"));
    // The table it was copied from serves what it served.
    CHECK(lookup(before, "erp.initech.com") == "-");
    CHECK(lookup(before, "globex.erp.example.com") == "globex globex-pool");
    CHECK(before.owner("globex.erp.example.com") == "globex");
}

TEST_CASE("HostTable: a tenant keeps its slot while served; a freed slot is reused",
          "[routing][host_table]") {
    const auto snapshot = make_snapshot();
    HostTable table(snapshot);
    REQUIRE(table.slot_count() == 5);
    const auto acme = table.slot_of("acme");
    REQUIRE(acme);
    CHECK(table.tenant_at(*acme)->name == "acme");
    CHECK(table.match("erp.acme.com")->index == *acme);

    // Replaced: same slot, new hosts only.
    table.put(tenant_of("acme", {"erp.acme.org"}));
    CHECK(table.slot_of("acme") == acme);
    CHECK(lookup(table, "erp.acme.org") == "acme shared");
    CHECK(lookup(table, "erp.acme.com") == "-");
    CHECK(lookup(table, "www.acme.com") == "-");  // its wildcard went with the old definition

    const auto globex = table.slot_of("globex");
    table.remove("globex");
    CHECK_FALSE(table.slot_of("globex"));
    CHECK(table.tenant_at(*globex) == nullptr);
    table.remove("globex");  // not served: nothing to do
    table.put(tenant_of("hooli", {"erp.hooli.com"}));
    CHECK(table.slot_of("hooli") == globex);
    CHECK(table.slot_count() == 5);
    table.put(tenant_of("initech", {"erp.initech.com"}));
    CHECK(table.slot_of("initech") == 5u);
    CHECK(table.slot_count() == 6);
}

TEST_CASE("HostTable: pool_users counts the pools named tenants send requests to",
          "[routing][host_table]") {
    tg::config::Snapshot snapshot;
    HostTable table(snapshot);
    table.put(tenant_of("a", {"a.example.com"}, "one"));
    table.put(tenant_of("b", {"b.example.com"}, "one"));
    tg::config::Tenant release;
    release.name = "c";
    release.hosts = {"c.example.com"};
    release.policy.release = tg::config::Release{};
    release.policy.release->blue = "blue-pool";
    release.policy.release->green = "green-pool";
    release.policy.release->active = tg::config::Color::green;
    table.put(std::make_shared<const tg::config::Tenant>(release));
    using Users = std::map<std::string, std::size_t, std::less<>>;
    CHECK(table.pool_users() == Users{{"green-pool", 1}, {"one", 2}});
    table.put(tenant_of("a", {"a.example.com"}, "two"));
    table.remove("b");
    CHECK(table.pool_users() == Users{{"green-pool", 1}, {"two", 1}});
}

TEST_CASE("HostTable: a change to one tenant of 20,000 copies little", "[routing][host_table]") {
    tg::config::Snapshot snapshot;
    for (int i = 0; i < 20000; ++i) {
        const auto name = "t" + std::to_string(i);
        snapshot.tenants.insert_or_assign(name, tenant_of(name, {name + ".erp.example.com"}));
    }
    const HostTable before(snapshot);
    HostTable after = before;
    after.put(tenant_of("new", {"erp.new.com"}));
    CHECK(after.slot_count() == 20001);
    // Every slot chunk but the last is shared with the table it came from.
    for (std::size_t chunk = 0; chunk + 1 < after.slots().chunk_count(); ++chunk)
        CHECK(after.slots().shares_chunk(before.slots(), chunk));
    CHECK(lookup(after, "t123.erp.example.com") == "t123 shared");
    CHECK(lookup(before, "erp.new.com") == "-");
}
