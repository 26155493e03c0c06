#include "proxy/admin/tenant_definition.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using tg::proxy::json_from_yaml;
using tg::proxy::tenant_definition_from_json;

TEST_CASE("a tenant definition in JSON becomes compact JSON and the YAML the schema reads",
          "[proxy][admin][tenants]") {
    std::string error;
    const auto definition = tenant_definition_from_json(
        R"({ "hosts": ["a.com"], "rate_limit": {"requests_per_second": 0.5, "burst": 10},
             "odoo_dbfilter_header": true, "pool": null })",
        error);
    REQUIRE(definition);
    CHECK(definition->json ==
          R"({"hosts":["a.com"],"rate_limit":{"requests_per_second":5E-1,"burst":10},)"
          R"("odoo_dbfilter_header":true,"pool":null})");
    const YAML::Node& yaml = definition->yaml;
    CHECK(yaml["hosts"][0].Scalar() == "a.com");
    // Numbers read as the body wrote them, so messages quote them alike.
    CHECK(yaml["rate_limit"]["requests_per_second"].Scalar() == "0.5");
    CHECK(yaml["rate_limit"]["burst"].Scalar() == "10");
    CHECK(yaml["odoo_dbfilter_header"].Scalar() == "true");
    CHECK(yaml["pool"].IsNull());
}

TEST_CASE("a tenant definition must be a JSON object", "[proxy][admin][tenants]") {
    for (const char* bad : {"", "{", "[]", "\"x\"", "{\"a\":1,}"}) {
        INFO(bad);
        std::string error;
        CHECK_FALSE(tenant_definition_from_json(bad, error));
        CHECK_FALSE(error.empty());
    }
}

TEST_CASE("a YAML definition file becomes JSON with plain scalars typed",
          "[proxy][admin][tenants]") {
    std::string error;
    const auto value = json_from_yaml(
        "hosts: [a.com, \"1.5\"]\npool: shared\nrate_limit: { requests_per_second: 2.5, "
        "burst: 10 }\nodoo_dbfilter_header: true\ndatabase_manager:\n",
        error);
    REQUIRE(value);
    CHECK(*value == boost::json::parse(R"({"hosts":["a.com","1.5"],"pool":"shared",
        "rate_limit":{"requests_per_second":2.5,"burst":10},"odoo_dbfilter_header":true,
        "database_manager":null})"));
    CHECK_FALSE(json_from_yaml("hosts: [a.com", error));
    CHECK(error.starts_with("not YAML or JSON: "));
}
