#include "proxy/state/tenant_merger.hpp"

#include <catch2/catch.hpp>

#include "config/load.hpp"

using tg::proxy::RuntimeTenant;
using tg::proxy::TenantMerger;

namespace {

std::shared_ptr<const tg::config::Snapshot> file_snapshot() {
    auto loaded = tg::config::load_text(R"yaml(
listeners: [{ name: http, address: 127.0.0.1:8080 }]
pools:
  shared: { web: [127.0.0.1:8069] }
tenants:
  acme: { hosts: [erp.acme.com], pool: shared }
)yaml",
                                        "test.yaml", "");
    REQUIRE(loaded.errors.empty());
    return loaded.snapshot;
}

using Definitions = tg::proxy::RuntimeTenants;

}  // namespace

TEST_CASE("TenantMerger: runtime definitions follow every change, tombstones included",
          "[proxy][state][tenant_merger]") {
    const auto file = file_snapshot();
    TenantMerger merger;
    Definitions definitions;
    definitions.insert_or_assign("globex", {R"({"hosts":["erp.globex.com"],"pool":"shared"})", 1});
    definitions.insert_or_assign("hooli", {R"({"hosts":["erp.hooli.com"],"pool":"shared"})", 1});

    auto merged = merger.merge(file, definitions);
    REQUIRE(merged.snapshot->tenants.size() == 3);
    const auto globex = merged.snapshot->tenants.at("globex");
    CHECK(globex->origin == tg::config::TenantOrigin::api);
    CHECK(merger.parsed() == 2);

    SECTION("an unchanged definition keeps its parsed tenant; a changed one is parsed again") {
        definitions.insert_or_assign("hooli",
                                     {R"({"hosts":["erp.hooli.org"],"pool":"shared"})", 2});
        merged = merger.merge(file, definitions);
        CHECK(merged.snapshot->tenants.at("globex") == globex);  // the same object
        CHECK(merged.snapshot->tenants.at("hooli")->hosts ==
              std::vector<std::string>{"erp.hooli.org"});
    }
    SECTION("a tombstone removes the tenant") {
        definitions.insert_or_assign("globex", {"", 2});
        merged = merger.merge(file, definitions);
        CHECK_FALSE(merged.snapshot->tenants.contains("globex"));
        CHECK(merger.parsed() == 1);
    }
    SECTION("a definition gone from the state is forgotten") {
        definitions.erase("globex");
        merged = merger.merge(file, definitions);
        CHECK_FALSE(merged.snapshot->tenants.contains("globex"));
        CHECK(merger.parsed() == 1);
    }
    SECTION("a definition that does not parse is left out, the others served") {
        definitions.insert_or_assign(
            "initech", {R"({"hosts":["erp.initech.com"],"pool":"shared","bogus":1})", 2});
        merged = merger.merge(file, definitions);
        CHECK_FALSE(merged.snapshot->tenants.contains("initech"));
        CHECK(merged.snapshot->tenants.size() == 3);
    }
    SECTION("a conflict with the file is reported and the file's tenant kept") {
        definitions.insert_or_assign("acme", {R"({"hosts":["erp.acme.org"],"pool":"shared"})", 2});
        merged = merger.merge(file, definitions);
        CHECK(merged.snapshot->tenants.at("acme")->origin == tg::config::TenantOrigin::file);
        REQUIRE(merged.problems.size() == 1);
        CHECK(merged.problems[0].starts_with("tenants.acme: defined in the config file"));
    }
}

namespace {

std::string definition_of(const std::string& host) {
    return R"({"hosts":[")" + host + R"("],"pool":"shared"})";
}

/// What a merger that never saw an earlier state serves for `definitions`: the full merge.
std::vector<std::string> served_by_fresh_merger(
    const std::shared_ptr<const tg::config::Snapshot>& file, const Definitions& definitions) {
    TenantMerger fresh;
    const auto merged = fresh.merge(file, definitions);
    std::vector<std::string> served;
    for (const auto& [name, tenant] : merged.snapshot->tenants)
        served.push_back(name + " " + tenant->hosts.front());
    return served;
}

std::vector<std::string> served(const tg::proxy::ServedTenants& merged) {
    std::vector<std::string> names;
    for (const auto& [name, tenant] : merged.snapshot->tenants) {
        names.push_back(name + " " + tenant->hosts.front());
        // The host table indexes the same tenants.
        const auto match = merged.hosts.match(tenant->hosts.front());
        CHECK((match && match->name == name));
    }
    return names;
}

}  // namespace

TEST_CASE("TenantMerger: a change applied to the last result serves what a full merge would",
          "[proxy][state][tenant_merger]") {
    const auto file = file_snapshot();
    TenantMerger merger;
    Definitions definitions;
    for (int i = 0; i < 600; ++i)
        definitions.insert_or_assign("t" + std::to_string(i),
                                     {definition_of("t" + std::to_string(i) + ".example.com"), 1});
    auto merged = merger.merge(file, definitions);
    CHECK(merged.snapshot->tenants.size() == 601);
    const auto first = merged;

    definitions.insert_or_assign("new", {definition_of("erp.new.com"), 2});
    definitions.insert_or_assign("t7", {"", 2});
    definitions.insert_or_assign("t8", {definition_of("t8.example.org"), 2});
    merged = merger.merge(file, definitions);
    CHECK(served(merged) == served_by_fresh_merger(file, definitions));
    REQUIRE(merged.removed.size() == 1);
    CHECK(merged.removed[0]->name == "t7");
    CHECK(merged.hosts.match("t8.example.org")->index == first.hosts.slot_of("t8"));
    CHECK_FALSE(merged.hosts.match("t8.example.com"));
    // The previous result is untouched.
    CHECK(first.hosts.match("t7.example.com"));
    CHECK(first.snapshot->tenants.size() == 601);

    SECTION("a host moved from one runtime tenant to another in one change") {
        definitions.insert_or_assign("t1", {definition_of("t2.example.com"), 3});
        definitions.insert_or_assign("t2", {definition_of("t2.example.net"), 3});
        merged = merger.merge(file, definitions);
        CHECK(merged.problems.empty());
        CHECK(served(merged) == served_by_fresh_merger(file, definitions));
    }
    SECTION("two runtime tenants claiming one host (replicas raced): the first by name keeps it") {
        definitions.insert_or_assign("a-first", {definition_of("t9.example.com"), 3});
        merged = merger.merge(file, definitions);
        CHECK(served(merged) == served_by_fresh_merger(file, definitions));
        REQUIRE(merged.problems.size() == 1);
        CHECK(merged.problems[0].starts_with("tenants.t9.hosts[0]"));
        CHECK(merged.hosts.match("t9.example.com")->name == "a-first");
        // Once the winner goes, the other comes back.
        definitions.insert_or_assign("a-first", {"", 4});
        merged = merger.merge(file, definitions);
        CHECK(merged.problems.empty());
        CHECK(merged.hosts.match("t9.example.com")->name == "t9");
    }
    SECTION("a new config file merges in full") {
        auto reloaded = std::make_shared<tg::config::Snapshot>(*file);
        merged = merger.merge(reloaded, definitions);
        CHECK(served(merged) == served_by_fresh_merger(reloaded, definitions));
        CHECK(merged.removed.empty());
    }
}
