#include "proxy/admin/runtime_requests.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using tg::config::Color;
using tg::proxy::parse_maintenance_request;
using tg::proxy::parse_release_request;

TEST_CASE("maintenance bodies", "[proxy][admin]") {
    std::string error;
    const auto on = parse_maintenance_request(
        R"({"enabled":true,"message":"<b>back soon</b>","retry_after":60})", error);
    REQUIRE(on);
    CHECK(on->enabled);
    CHECK(on->message == "<b>back soon</b>");
    CHECK(on->retry_after == 60);
    const auto defaulted = parse_maintenance_request(R"({"enabled":true})", error);
    REQUIRE(defaulted);
    CHECK(defaulted->retry_after == tg::proxy::default_maintenance_retry_after);
    const auto off = parse_maintenance_request(R"({"enabled":false,"message":"x"})", error);
    REQUIRE(off);
    CHECK(*off == tg::proxy::Maintenance{});  // off is off, whatever else was said
}

TEST_CASE("bad maintenance bodies are refused with a reason", "[proxy][admin]") {
    for (const char* bad :
         {"", "{", "[]", R"({"message":"x"})", R"({"enabled":"yes"})",
          R"({"enabled":true,"retry_after":-1})", R"({"enabled":true,"retry_after":1.5})",
          R"({"enabled":true,"retry_after":"60"})", R"({"enabled":true,"message":7})",
          R"({"enabled":true,"colour":"red"})"}) {
        INFO(bad);
        std::string error;
        CHECK_FALSE(parse_maintenance_request(bad, error));
        CHECK_FALSE(error.empty());
    }
    std::string error;
    CHECK_FALSE(parse_maintenance_request(
        R"({"enabled":true,"message":")" + std::string(5000, 'x') + R"("})", error));
    CHECK(error.find("longer") != std::string::npos);
}

TEST_CASE("release bodies", "[proxy][admin]") {
    std::string error;
    const auto full =
        parse_release_request(R"({"active":"green","drain_timeout":"2m","force":true})", error);
    REQUIRE(full);
    CHECK(full->active == Color::green);
    CHECK(full->drain_timeout == 120s);
    CHECK(full->force);
    const auto minimal = parse_release_request(R"({"active":"blue"})", error);
    REQUIRE(minimal);
    CHECK(minimal->active == Color::blue);
    CHECK_FALSE(minimal->drain_timeout);
    CHECK_FALSE(minimal->force);
}

TEST_CASE("bad release bodies are refused with a reason", "[proxy][admin]") {
    for (const char* bad :
         {"not json", R"({})", R"({"active":"purple"})", R"({"active":"Green"})", R"({"active":1})",
          R"({"active":"green","drain_timeout":"soon"})",
          R"({"active":"green","drain_timeout":120})", R"({"active":"green","force":"yes"})",
          R"({"active":"green","to":"blue"})"}) {
        INFO(bad);
        std::string error;
        CHECK_FALSE(parse_release_request(bad, error));
        CHECK_FALSE(error.empty());
    }
}
