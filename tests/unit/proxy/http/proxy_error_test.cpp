#include "proxy/http/proxy_error.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <string_view>

#include "proxy/io.hpp"

namespace http = tg::proxy::http;
using tg::proxy::build_local_response;
using tg::proxy::closes_connection;
using tg::proxy::ErrorKind;
using tg::proxy::reason_of;
using tg::proxy::status_of;

namespace {

constexpr ErrorKind all_kinds[] = {
    ErrorKind::bad_request,       ErrorKind::header_timeout, ErrorKind::body_too_large,
    ErrorKind::headers_too_large, ErrorKind::unknown_host,   ErrorKind::forbidden,
    ErrorKind::no_endpoint,       ErrorKind::connect_failed, ErrorKind::upstream_protocol,
    ErrorKind::upstream_timeout,  ErrorKind::rate_limited,   ErrorKind::body_timeout,
};

/// Parses `wire` as one complete HTTP/1.1 response; fails the test if it is not exactly that.
http::response<http::string_body> parse_response(const std::string& wire) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    boost::system::error_code ec;
    const auto used = parser.put(boost::asio::buffer(wire), ec);
    INFO(wire);
    REQUIRE_FALSE(ec);
    REQUIRE(parser.is_done());
    REQUIRE(used == wire.size());
    return parser.release();
}

}  // namespace

TEST_CASE("every error kind maps to the SPEC status", "[proxy][proxy_error]") {
    CHECK(status_of(ErrorKind::bad_request) == 400);
    CHECK(status_of(ErrorKind::header_timeout) == 408);
    CHECK(status_of(ErrorKind::body_timeout) == 408);  // a stalled upload, as nginx answers it
    CHECK(status_of(ErrorKind::body_too_large) == 413);
    CHECK(status_of(ErrorKind::headers_too_large) == 431);
    CHECK(status_of(ErrorKind::unknown_host) == 404);
    CHECK(status_of(ErrorKind::forbidden) == 403);
    CHECK(status_of(ErrorKind::rate_limited) == 429);
    CHECK(status_of(ErrorKind::no_endpoint) == 502);
    CHECK(status_of(ErrorKind::connect_failed) == 502);
    CHECK(status_of(ErrorKind::upstream_protocol) == 502);
    CHECK(status_of(ErrorKind::upstream_timeout) == 504);
}

TEST_CASE("framing errors close the client connection, routing errors do not",
          "[proxy][proxy_error]") {
    // SPEC §3: 400 and 408 close. 413 and 431 leave unread bytes of unknown extent behind.
    CHECK(closes_connection(ErrorKind::bad_request));
    CHECK(closes_connection(ErrorKind::header_timeout));
    // The rest of a stalled body may still come: nothing after it can be framed.
    CHECK(closes_connection(ErrorKind::body_timeout));
    CHECK(closes_connection(ErrorKind::headers_too_large));
    CHECK(closes_connection(ErrorKind::body_too_large));
    // The request was read completely: the connection can serve the next one.
    CHECK_FALSE(closes_connection(ErrorKind::unknown_host));
    CHECK_FALSE(closes_connection(ErrorKind::forbidden));
    CHECK_FALSE(closes_connection(ErrorKind::no_endpoint));
    CHECK_FALSE(closes_connection(ErrorKind::connect_failed));
    CHECK_FALSE(closes_connection(ErrorKind::upstream_timeout));
}

TEST_CASE("each error kind has its own reason label", "[proxy][proxy_error]") {
    std::set<std::string_view> seen;
    for (const auto kind : all_kinds) {
        const auto reason = reason_of(kind);
        INFO(reason);
        CHECK(reason != "internal");
        CHECK(reason.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
        CHECK(seen.insert(reason).second);
    }
    CHECK(reason_of(ErrorKind::connect_failed) == "connect_failed");
    CHECK(reason_of(ErrorKind::upstream_timeout) == "upstream_timeout");
}

TEST_CASE("a local response parses back as HTTP/1.1", "[proxy][proxy_error]") {
    for (const auto kind : all_kinds) {
        const unsigned status = status_of(kind);
        INFO(status);
        std::string wire = "stale bytes from a previous response";
        build_local_response(wire, status, "rid-42", false);
        const auto response = parse_response(wire);
        CHECK(response.version() == 11);
        CHECK(response.result_int() == status);
        CHECK(response.reason() == http::obsolete_reason(response.result()));
        CHECK(response[http::field::content_length] == std::to_string(response.body().size()));
        CHECK_FALSE(response.body().empty());
        CHECK(response.body().find(std::to_string(status)) != std::string::npos);
        CHECK(response["X-Request-Id"] == "rid-42");
        CHECK(response.count(http::field::connection) == 0);
        CHECK(response.keep_alive());
    }
}

TEST_CASE("a local response says Connection: close only when asked", "[proxy][proxy_error]") {
    std::string wire;
    build_local_response(wire, 400, "rid-1", true);
    const auto closing = parse_response(wire);
    CHECK(closing.result_int() == 400);
    CHECK(closing.count(http::field::connection) == 1);
    CHECK(closing[http::field::connection] == "close");
    CHECK_FALSE(closing.keep_alive());

    build_local_response(wire, 404, "rid-2", false);
    const auto open = parse_response(wire);
    CHECK(open.result_int() == 404);
    CHECK(open.count(http::field::connection) == 0);
    CHECK(open["X-Request-Id"] == "rid-2");
}

TEST_CASE("a local response carries extra headers and a given body", "[proxy][proxy_error]") {
    std::string wire;
    const std::string body = "<html><body>Back soon \xe2\x9c\x93</body></html>\n";
    build_local_response(wire, 503, "rid-3", false, "Retry-After: 600\r\nX-Extra: a\r\n", body);
    const auto response = parse_response(wire);
    CHECK(response.result_int() == 503);
    CHECK(response.body() == body);
    CHECK(response[http::field::content_length] == std::to_string(body.size()));
    CHECK(response[http::field::retry_after] == "600");
    CHECK(response["X-Extra"] == "a");
    CHECK(response["X-Request-Id"] == "rid-3");

    build_local_response(wire, 429, "rid-4", true, "Retry-After: 1\r\n");
    const auto limited = parse_response(wire);
    CHECK(limited.result_int() == 429);
    CHECK(limited[http::field::retry_after] == "1");
    CHECK(limited[http::field::connection] == "close");
    CHECK(limited[http::field::content_length] == std::to_string(limited.body().size()));
}
