#include "proxy/http/response_rules.hpp"

#include <catch2/catch.hpp>

namespace http = tg::proxy::http;
using tg::proxy::AnnouncedFraming;
using tg::proxy::relays_interim;
using tg::proxy::response_has_body;
using tg::proxy::upstream_reusable_after;

TEST_CASE("which responses have a body", "[proxy][response_rules]") {
    CHECK(response_has_body(http::verb::get, 200));
    CHECK(response_has_body(http::verb::post, 404));
    CHECK(response_has_body(http::verb::get, 502));
    CHECK_FALSE(response_has_body(http::verb::head, 200));
    CHECK_FALSE(response_has_body(http::verb::get, 204));
    CHECK_FALSE(response_has_body(http::verb::get, 304));
    CHECK_FALSE(response_has_body(http::verb::get, 103));
}

TEST_CASE("an upstream connection is reused only when nothing can follow the response",
          "[proxy][response_rules]") {
    // Ordinary responses: as the upstream said.
    CHECK(upstream_reusable_after(true, {true, false, 12}));
    CHECK(upstream_reusable_after(true, {true, true, 0}));
    CHECK_FALSE(upstream_reusable_after(true, {false, false, 12}));
    // Bodiless responses that announce nothing: reusable.
    CHECK(upstream_reusable_after(false, {true, false, 0}));
    CHECK(upstream_reusable_after(false, {true, false, 0}));
    // Bodiless responses that announce a body: its bytes may come after the header.
    CHECK_FALSE(upstream_reusable_after(false, {true, false, 5}));
    CHECK_FALSE(upstream_reusable_after(false, {true, true, 0}));
}

TEST_CASE("which interim responses reach the client", "[proxy][response_rules]") {
    CHECK(relays_interim(103, 11));
    CHECK(relays_interim(102, 11));
    CHECK_FALSE(relays_interim(100, 11));  // the proxy answered Expect itself
    CHECK_FALSE(relays_interim(101, 11));  // not interim: the final answer to an upgrade
    CHECK_FALSE(relays_interim(103, 10));  // RFC 9110 §15.2: none to an HTTP/1.0 client
    CHECK_FALSE(relays_interim(200, 11));
}
