#include "proxy/http/header_block.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

using tg::proxy::header_block_is_strict;
using tg::proxy::header_block_length;
using namespace std::string_view_literals;

TEST_CASE("header_block_length finds the end of a complete block", "[proxy][header_block]") {
    const std::string block = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
    CHECK(header_block_length(block) == block.size());
    // Body bytes (or a pipelined request) after the empty line are not part of the block.
    CHECK(header_block_length(block + "BODY") == block.size());
    CHECK(header_block_length(block + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n") == block.size());
    // The first empty line ends the block, even when another one follows.
    CHECK(header_block_length("GET / HTTP/1.1\r\n\r\n\r\n"sv) == 18);
}

TEST_CASE("header_block_length is 0 for a partial block", "[proxy][header_block]") {
    CHECK(header_block_length(""sv) == 0);
    CHECK(header_block_length("GET / HTTP/1.1"sv) == 0);
    CHECK(header_block_length("GET / HTTP/1.1\r\n"sv) == 0);
    CHECK(header_block_length("GET / HTTP/1.1\r\nHost: a\r\n"sv) == 0);
    CHECK(header_block_length("GET / HTTP/1.1\r\nHost: a\r\n\r"sv) == 0);
}

TEST_CASE("a bare-LF terminator never completes a block", "[proxy][header_block]") {
    CHECK(header_block_length("GET / HTTP/1.1\nHost: a\n\n"sv) == 0);
    CHECK(header_block_length("GET / HTTP/1.1\r\nHost: a\n\n"sv) == 0);
    CHECK(header_block_length("GET / HTTP/1.1\r\nHost: a\r\n\n"sv) == 0);
    CHECK(header_block_length("GET / HTTP/1.1\r\nHost: a\n\r\n"sv) == 0);
}

TEST_CASE("a well-formed block is strict", "[proxy][header_block]") {
    CHECK(header_block_is_strict("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"sv));
    CHECK(header_block_is_strict("GET / HTTP/1.1\r\n\r\n"sv));
    // Whitespace inside a field value is fine: only a line that starts with it is a fold.
    CHECK(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r\nX-A: one two\tthree\r\n\r\n"sv));
    // Bytes over 0x7f are obs-text, which a field value may carry.
    CHECK(header_block_is_strict("GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n"sv));
}

TEST_CASE("a bare LF anywhere is not strict", "[proxy][header_block]") {
    // In the request line, in a field, as the terminator, and as the very first byte.
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\nHost: a\r\n\r\n"sv));
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n"sv));
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r\n\n\r\n\r\n"sv));
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\n\r\n"sv));
    CHECK_FALSE(header_block_is_strict("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"sv));
    CHECK_FALSE(header_block_is_strict("GET /\n HTTP/1.1\r\nHost: a\r\n\r\n"sv));
}

TEST_CASE("an obs-fold continuation line is not strict", "[proxy][header_block]") {
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"sv));
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"sv));
    // A fold right after the request line smuggles a "header" into the request line's meaning.
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\n Host: a\r\n\r\n"sv));
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n"sv));
}

TEST_CASE("a NUL byte anywhere is not strict", "[proxy][header_block]") {
    using namespace std::string_literals;
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s));
    CHECK_FALSE(header_block_is_strict("\0GET / HTTP/1.1\r\nHost: a\r\n\r\n"s));
    CHECK_FALSE(header_block_is_strict("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"s));
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r\n\r\n\0"s));
}

TEST_CASE("the start of a block is checked as it arrives", "[proxy][header_block]") {
    // Incomplete, and already spoilt: the request can be refused before it ends.
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r\n\n"sv));
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r\n\tX"sv));
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\0"sv));
    // Incomplete and fine so far, including a CRLF whose next byte has not come yet.
    CHECK(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r\n"sv));
    CHECK(header_block_is_strict("GET / HTTP/1.1\r\nHost: a\r"sv));
}

TEST_CASE("only the bytes from `from` on are checked", "[proxy][header_block]") {
    const auto grown = "GET / HTTP/1.1\r\nHost: a\r\n X: b"sv;
    // The fold shows only once its first byte came: from the LF before it on, it is seen.
    CHECK_FALSE(header_block_is_strict(grown, grown.find("\n X")));
    // A bare LF before `from` was the caller's to find; the rest is fine.
    CHECK(header_block_is_strict("GET /\nX HTTP/1.1\r\n"sv, 7));
    // The byte before `from` is context for a LF at `from`.
    CHECK_FALSE(header_block_is_strict("GET / HTTP/1.1\n"sv, 14));
    CHECK(header_block_is_strict("GET / HTTP/1.1\r\n"sv, 15));
    CHECK(header_block_is_strict("GET"sv, 3));
}
