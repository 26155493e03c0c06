#include "proxy/state/runtime_state_json.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <limits>
#include <string>

using tg::config::Color;
using tg::proxy::Maintenance;
using tg::proxy::ReleaseState;
using tg::proxy::runtime_state_from_json;
using tg::proxy::RuntimeState;

namespace {

RuntimeState sample_state() {
    RuntimeState state;
    state.version = 1733380000123;
    state.origin = "host-1234-ab12";
    state.global_maintenance = Maintenance{false, "", 0};
    state.tenant_maintenance["acme"] =
        Maintenance{true, "Upgrading \"v17\"\n<b>soon</b>", 600, 1733380000100};
    state.tenant_maintenance["beta"] = Maintenance{true, "", 0};
    state.releases["acme"] = ReleaseState{Color::green, Color::blue, 1733380000123, 120000};
    state.releases["beta"] = ReleaseState{Color::blue, std::nullopt, 1733380000000, 0};
    state.tenants.insert_or_assign(
        "globex", {R"({"hosts":["erp.globex.com"],"pool":"shared-eu"})", 1733380000050});
    state.tenants.insert_or_assign("hooli", {"", 1733380000120});  // removed
    return state;
}

std::string text_of(const RuntimeState& state) {
    return tg::proxy::runtime_state_text(state);
}

}  // namespace

TEST_CASE("runtime state: to_json then parse gives the same state", "[proxy][state]") {
    for (const RuntimeState& state : {sample_state(), RuntimeState{}}) {
        std::string error;
        const auto parsed = runtime_state_from_json(text_of(state), error);
        INFO(error);
        REQUIRE(parsed);
        CHECK(*parsed == state);
        CHECK(error.empty());
    }
    RuntimeState extreme;
    extreme.version = std::numeric_limits<std::uint64_t>::max();
    extreme.global_maintenance =
        Maintenance{true, "ünïcödé", std::numeric_limits<std::int64_t>::max()};
    std::string error;
    const auto parsed = runtime_state_from_json(text_of(extreme), error);
    REQUIRE(parsed);
    CHECK(*parsed == extreme);
}

TEST_CASE("runtime state: the JSON is the shape of the contract", "[proxy][state]") {
    const auto expected = boost::json::parse(R"({
        "version": 1733380000123, "origin": "host-1234-ab12",
        "global_maintenance": {"enabled": false, "message": "", "retry_after": 0,
                               "changed_ms": 0},
        "tenant_maintenance": {
            "acme": {"enabled": true, "message": "Upgrading \"v17\"\n<b>soon</b>", "retry_after": 600,
                     "changed_ms": 1733380000100},
            "beta": {"enabled": true, "message": "", "retry_after": 0, "changed_ms": 0}},
        "releases": {
            "acme": {"active": "green", "previous": "blue", "switched_at_ms": 1733380000123,
                     "drain_timeout_ms": 120000},
            "beta": {"active": "blue", "previous": null, "switched_at_ms": 1733380000000,
                     "drain_timeout_ms": 0}},
        "tenants": {
            "globex": {"definition": {"hosts": ["erp.globex.com"], "pool": "shared-eu"},
                       "changed_ms": 1733380000050},
            "hooli": {"definition": null, "changed_ms": 1733380000120}}})");
    CHECK(boost::json::parse(tg::proxy::runtime_state_text(sample_state())) == expected);
}

TEST_CASE("runtime state: absent keys take their defaults", "[proxy][state]") {
    std::string error;
    const auto empty = runtime_state_from_json("{}", error);
    REQUIRE(empty);
    CHECK(*empty == RuntimeState{});

    const auto partial = runtime_state_from_json(
        R"({"version": 7, "releases": {"acme": {"active": "green", "switched_at_ms": 5,
            "drain_timeout_ms": 9}}})",
        error);
    REQUIRE(partial);
    CHECK(partial->version == 7);
    CHECK(partial->tenant_maintenance.empty());
    REQUIRE(partial->releases.contains("acme"));
    CHECK(partial->releases.at("acme") == ReleaseState{Color::green, std::nullopt, 5, 9});
}

TEST_CASE("runtime state: anything else is refused, naming the key path", "[proxy][state]") {
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"[]", "expected a JSON object"},
        {"null", "expected a JSON object"},
        {R"({"versions": 1})", "versions: unknown key"},
        {R"({"version": -1})", "version: expected a non-negative integer"},
        {R"({"version": 1.5})", "version: expected a non-negative integer"},
        {R"({"version": "1"})", "version: expected a non-negative integer"},
        {R"({"origin": 5})", "origin: expected a string"},
        {R"({"global_maintenance": true})", "global_maintenance: expected an object"},
        {R"({"global_maintenance": {"enabled": "yes", "message": "", "retry_after": 0}})",
         "global_maintenance.enabled: expected true or false"},
        {R"({"global_maintenance": {"enabled": true, "message": ""}})",
         "global_maintenance.retry_after: missing"},
        {R"({"global_maintenance": {"enabled": true, "message": "", "retry_after": -1}})",
         "global_maintenance.retry_after: expected a non-negative integer"},
        {R"({"global_maintenance": {"enabled": true, "message": "", "retry_after": 18446744073709551615}})",
         "global_maintenance.retry_after: too large"},
        {R"({"tenant_maintenance": []})", "tenant_maintenance: expected an object"},
        {R"({"tenant_maintenance": {"acme": {"enabled": true, "message": "", "retry_after": 1,
             "colour": "red"}}})",
         "tenant_maintenance.acme.colour: unknown key"},
        {R"({"tenant_maintenance": {"acme": {"enabled": true, "message": null, "retry_after": 1}}})",
         "tenant_maintenance.acme.message: expected a string"},
        {R"({"releases": {"acme": {"active": "red", "switched_at_ms": 1, "drain_timeout_ms": 1}}})",
         "releases.acme.active: expected \"blue\" or \"green\""},
        {R"({"releases": {"acme": {"active": "green", "previous": "Blue", "switched_at_ms": 1,
             "drain_timeout_ms": 1}}})",
         "releases.acme.previous: expected \"blue\" or \"green\""},
        {R"({"releases": {"acme": {"active": "green", "switched_at_ms": 1, "drain_timeout_ms": -5}}})",
         "releases.acme.drain_timeout_ms: expected a non-negative integer"},
        {R"({"releases": {"acme": {"active": "green", "switched_at_ms": 1e3, "drain_timeout_ms": 1}}})",
         "releases.acme.switched_at_ms: expected a non-negative integer"},
        {R"({"releases": {"acme": {"active": "green", "drain_timeout_ms": 1}}})",
         "releases.acme.switched_at_ms: missing"},
        {R"({"tenants": []})", "tenants: expected an object"},
        {R"({"tenants": {"globex": ["erp.globex.com"]}})", "tenants.globex: expected an object"},
        {R"({"tenants": {"globex": {"hosts": ["erp.globex.com"]}}})",
         "tenants.globex.hosts: unknown key"},
        {R"({"tenants": {"globex": {"changed_ms": 5}}})", "tenants.globex.definition: missing"},
        {R"({"tenants": {"globex": {"definition": null}}})", "tenants.globex.changed_ms: missing"},
        {R"({"tenants": {"globex": {"definition": ["a"], "changed_ms": 5}}})",
         "tenants.globex.definition: expected an object"},
        {R"({"tenants": {"globex": {"definition": "{}", "changed_ms": 5}}})",
         "tenants.globex.definition: expected an object"},
        {R"({"tenants": {"globex": {"definition": {}, "changed_ms": -5}}})",
         "tenants.globex.changed_ms: expected a non-negative integer"},
        {R"({"tenants": {"globex": {"definition": {}, "changed_ms": 5, "removed": true}}})",
         "tenants.globex.removed: unknown key"},
        {R"({"tenant": {}})", "tenant: unknown key"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        std::string error;
        CHECK_FALSE(runtime_state_from_json(c.text, error));
        CHECK(error == c.error);
    }
}

TEST_CASE("runtime state: a runtime tenant's definition is kept as compact JSON text",
          "[proxy][state]") {
    std::string error;
    const auto parsed = runtime_state_from_json(
        R"({"tenants": {"globex": {"definition": {"hosts": [ "erp.globex.com" ],
            "rate_limit": {"requests_per_second": 2.5, "burst": 10}}, "changed_ms": 42},
            "hooli": {"definition": null, "changed_ms": 43}}})",
        error);
    INFO(error);
    REQUIRE(parsed);
    CHECK(parsed->tenants.at("globex").definition ==
          R"({"hosts":["erp.globex.com"],"rate_limit":{"requests_per_second":2.5E0,"burst":10}})");
    CHECK(parsed->tenants.at("globex").changed_ms == 42);
    CHECK_FALSE(parsed->tenants.at("globex").removed());
    CHECK(parsed->tenants.at("hooli").removed());
    CHECK(parsed->tenants.at("hooli").changed_ms == 43);
    const auto again = runtime_state_from_json(text_of(*parsed), error);
    REQUIRE(again);
    CHECK(*again == *parsed);
}

TEST_CASE("runtime state: text that is not JSON is refused with where", "[proxy][state]") {
    for (const char* bad : {"", "{", "{} x", "{\"version\": 1,}", "\xff"}) {
        INFO(bad);
        std::string error;
        CHECK_FALSE(runtime_state_from_json(bad, error));
        CHECK(error.starts_with("invalid JSON at byte "));
    }
}

TEST_CASE("runtime state: as Redis hash fields, one per entry, and back", "[proxy][state]") {
    const RuntimeState state = sample_state();
    auto flat = tg::proxy::runtime_state_fields(state);
    REQUIRE(flat.size() == 2 * (1 + 2 + 2 + 2));
    CHECK(flat[0] == "global_maintenance");
    CHECK(std::find(flat.begin(), flat.end(), "tenants:globex") != flat.end());
    CHECK(std::find(flat.begin(), flat.end(), "releases:acme") != flat.end());
    const auto hooli = std::find(flat.begin(), flat.end(), "tenants:hooli");
    REQUIRE(hooli != flat.end());
    CHECK(*std::next(hooli) == R"({"definition":null,"changed_ms":1733380000120})");

    // As HGETALL returns them: any order, with the version and origin the writer stored.
    flat.insert(flat.begin(), {"origin", state.origin, "version", std::to_string(state.version)});
    std::reverse(flat.begin(), flat.end());
    for (std::size_t i = 0; i < flat.size(); i += 2) std::swap(flat[i], flat[i + 1]);
    std::string error;
    const auto parsed = tg::proxy::runtime_state_from_fields(flat, error);
    INFO(error);
    REQUIRE(parsed);
    CHECK(*parsed == state);
}

TEST_CASE("runtime state: hash fields that are not a state are refused, naming the field",
          "[proxy][state]") {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"version", "12", "colour", "blue"}, "field colour: unknown"},
        {{"version", "12", "clients:acme", "{}"}, "field clients:acme: unknown"},
        {{"version", "12", "releases:acme", "{not json"}, "field releases:acme: invalid JSON"},
        {{"version", "soon"}, "field version: expected digits"},
        {{"version", "-3"}, "field version: expected digits"},
        {{"version", "12 "}, "field version: expected digits"},
        {{"version", ""}, "field version: expected digits"},
        {{"version", "0012"}, "field version: expected digits"},
        {{"origin", "x"}, "field version: missing"},
        {{"version", "12", "tenants:", "{}"}, "field tenants:: unknown"},
        {{"version", "12", "releases:acme", R"({"active":"red"})"}, "releases.acme.active"},
        {{"version"}, "a field without a value"},
    };
    for (const auto& [flat, expected] : cases) {
        std::string error;
        INFO(flat.front() << " → " << expected);
        CHECK_FALSE(tg::proxy::runtime_state_from_fields(flat, error));
        CHECK_THAT(error, Catch::Contains(expected));
    }
}
