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

using Definitions = std::map<std::string, RuntimeTenant, std::less<>>;

}  // namespace

TEST_CASE("TenantMerger: runtime definitions follow every change, tombstones included",
          "[proxy][state][tenant_merger]") {
    const auto file = file_snapshot();
    TenantMerger merger;
    Definitions definitions{{"globex", {R"({"hosts":["erp.globex.com"],"pool":"shared"})", 1}},
                            {"hooli", {R"({"hosts":["erp.hooli.com"],"pool":"shared"})", 1}}};

    auto merged = merger.merge(*file, definitions);
    REQUIRE(merged.snapshot->tenants.size() == 3);
    const auto globex = merged.snapshot->tenants.at("globex");
    CHECK(globex->origin == tg::config::TenantOrigin::api);
    CHECK(merger.parsed() == 2);

    SECTION("an unchanged definition keeps its parsed tenant; a changed one is parsed again") {
        definitions["hooli"] = {R"({"hosts":["erp.hooli.org"],"pool":"shared"})", 2};
        merged = merger.merge(*file, definitions);
        CHECK(merged.snapshot->tenants.at("globex") == globex);  // the same object
        CHECK(merged.snapshot->tenants.at("hooli")->hosts ==
              std::vector<std::string>{"erp.hooli.org"});
    }
    SECTION("a tombstone removes the tenant") {
        definitions["globex"] = {"", 2};
        merged = merger.merge(*file, definitions);
        CHECK_FALSE(merged.snapshot->tenants.contains("globex"));
        CHECK(merger.parsed() == 1);
    }
    SECTION("a definition gone from the state is forgotten") {
        definitions.erase("globex");
        merged = merger.merge(*file, definitions);
        CHECK_FALSE(merged.snapshot->tenants.contains("globex"));
        CHECK(merger.parsed() == 1);
    }
    SECTION("a definition that does not parse is left out, the others served") {
        definitions["initech"] = {R"({"hosts":["erp.initech.com"],"pool":"shared","bogus":1})", 2};
        merged = merger.merge(*file, definitions);
        CHECK_FALSE(merged.snapshot->tenants.contains("initech"));
        CHECK(merged.snapshot->tenants.size() == 3);
    }
    SECTION("a conflict with the file is reported and the file's tenant kept") {
        definitions["acme"] = {R"({"hosts":["erp.acme.org"],"pool":"shared"})", 2};
        merged = merger.merge(*file, definitions);
        CHECK(merged.snapshot->tenants.at("acme")->origin == tg::config::TenantOrigin::file);
        REQUIRE(merged.problems.size() == 1);
        CHECK(merged.problems[0].starts_with("tenants.acme: defined in the config file"));
    }
}
