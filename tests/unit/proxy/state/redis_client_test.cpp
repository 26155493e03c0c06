#include "proxy/state/redis_client.hpp"

#include <catch2/catch.hpp>

using tg::proxy::parse_redis_url;

TEST_CASE("redis URLs: host, port, password and database", "[proxy][redis]") {
    std::string error;
    const auto plain = parse_redis_url("redis://127.0.0.1:6380/2", error);
    REQUIRE(plain);
    CHECK(plain->host == "127.0.0.1");
    CHECK(plain->port == 6380);
    CHECK(plain->database == 2);
    CHECK(plain->password.empty());
    CHECK(plain->display == "redis://127.0.0.1:6380/2");

    const auto secret = parse_redis_url("redis://:p@ss:w0rd@redis.state.svc/0", error);
    REQUIRE(secret);
    CHECK(secret->host == "redis.state.svc");
    CHECK(secret->port == 6379);
    CHECK(secret->password == "p@ss:w0rd");
    CHECK(secret->display.find("w0rd") == std::string::npos);
    CHECK(secret->display == "redis://:***@redis.state.svc/0");

    const auto v6 = parse_redis_url("redis://[::1]:7000", error);
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->port == 7000);
}

TEST_CASE("redis URLs: bad ones are refused with a reason", "[proxy][redis]") {
    for (const char* bad : {"http://x", "redis://", "redis://h:0", "redis://h:99999",
                            "redis://h:12x", "redis://h/db", "redis://:pw@"}) {
        INFO(bad);
        std::string error;
        CHECK_FALSE(parse_redis_url(bad, error));
        CHECK_FALSE(error.empty());
    }
}
