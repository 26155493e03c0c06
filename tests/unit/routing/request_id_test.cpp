#include "routing/request_id.hpp"

#include <catch2/catch.hpp>
#include <string>

using tg::routing::is_valid_request_id;
using tg::routing::make_request_id;

TEST_CASE("request ids safe to log are kept", "[routing][request_id]") {
    CHECK(is_valid_request_id("a"));
    CHECK(is_valid_request_id("0123456789abcdef0123456789abcdef"));
    CHECK(is_valid_request_id("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
    CHECK(is_valid_request_id("Root=1-5759e988-bd862e3fe1be46a994272793") == false);  // '='
    CHECK(is_valid_request_id("trace.span:01_AZ-z"));
    CHECK(is_valid_request_id(std::string(128, 'x')));
}

TEST_CASE("request ids that could inject into logs are refused", "[routing][request_id]") {
    CHECK_FALSE(is_valid_request_id(""));
    CHECK_FALSE(is_valid_request_id(std::string(129, 'x')));
    CHECK_FALSE(is_valid_request_id("abc def"));
    CHECK_FALSE(is_valid_request_id("abc\"}"));
    CHECK_FALSE(is_valid_request_id("abc\r\nX-Admin: 1"));
    CHECK_FALSE(is_valid_request_id("abc\\u0000"));
    CHECK_FALSE(is_valid_request_id(std::string_view("ab\0c", 4)));
    CHECK_FALSE(is_valid_request_id("caf\xc3\xa9"));
    CHECK_FALSE(is_valid_request_id("a/b"));
}

TEST_CASE("generated request ids are 32 lower-case hex digits", "[routing][request_id]") {
    std::string id;
    make_request_id(0x0123456789abcdefull, 0xfedcba9876543210ull, id);
    CHECK(id == "0123456789abcdeffedcba9876543210");
    make_request_id(0, 0, id);
    CHECK(id == "00000000000000000000000000000000");
    make_request_id(~0ull, 1, id);
    CHECK(id == "ffffffffffffffff0000000000000001");
    CHECK(is_valid_request_id(id));

    std::string reused = "a previous, much longer request id that leaves capacity behind";
    const auto* data = reused.data();
    make_request_id(1, 2, reused);
    CHECK(reused == "00000000000000010000000000000002");
    CHECK(reused.data() == data);
}
