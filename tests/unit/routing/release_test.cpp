#include "routing/release.hpp"

#include <catch2/catch.hpp>

using tg::config::Color;
using tg::routing::active_pool;
using tg::routing::color_name;
using tg::routing::parse_color;

TEST_CASE("colour names round-trip", "[routing][release]") {
    CHECK(color_name(Color::blue) == "blue");
    CHECK(color_name(Color::green) == "green");
    CHECK(parse_color("blue") == Color::blue);
    CHECK(parse_color("green") == Color::green);
    CHECK(parse_color(color_name(Color::green)) == Color::green);
    CHECK_FALSE(parse_color(""));
    CHECK_FALSE(parse_color("Blue"));
    CHECK_FALSE(parse_color("red"));
    CHECK_FALSE(parse_color("green "));
}

TEST_CASE("active_pool follows the release colour", "[routing][release]") {
    tg::config::TenantPolicy plain;
    plain.pool = "shared-eu";
    CHECK(active_pool(plain, std::nullopt) == "shared-eu");
    CHECK(active_pool(plain, Color::green) == "shared-eu");  // no release: nothing to switch

    tg::config::TenantPolicy released;
    released.release = tg::config::Release{"acme-blue", "acme-green", Color::blue};
    CHECK(active_pool(released, std::nullopt) == "acme-blue");
    CHECK(active_pool(released, Color::green) == "acme-green");
    CHECK(active_pool(released, Color::blue) == "acme-blue");
    CHECK(&active_pool(released, std::nullopt) == &released.release->blue);

    released.release->active = Color::green;
    CHECK(active_pool(released, std::nullopt) == "acme-green");
    CHECK(active_pool(released, Color::blue) == "acme-blue");  // the admin switch wins
}
