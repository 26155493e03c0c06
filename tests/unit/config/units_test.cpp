#include <catch2/catch.hpp>

#include "config/units.hpp"

using namespace std::chrono_literals;
using tg::config::format_duration;
using tg::config::parse_duration;
using tg::config::parse_size;

TEST_CASE("parse_duration reads the SPEC units", "[config][units]") {
    CHECK(parse_duration("500ms") == 500ms);
    CHECK(parse_duration("30s") == 30s);
    CHECK(parse_duration("5m") == 5min);
    CHECK(parse_duration("1h") == 1h);
    CHECK(parse_duration("720s") == 720s);
    CHECK(parse_duration("0s") == 0ms);
}

TEST_CASE("parse_duration sums components written largest first", "[config][units]") {
    CHECK(parse_duration("1m30s") == 90s);
    CHECK(parse_duration("1h2m3s4ms") == 1h + 2min + 3s + 4ms);
    CHECK_FALSE(parse_duration("30s1m"));
    CHECK_FALSE(parse_duration("1s1s"));
}

TEST_CASE("parse_duration rejects everything else", "[config][units]") {
    for (const char* bad : {"", "5", "-5s", "+5s", "1.5s", "s", "5x", "5 s", " 5s", "5s ", "5S",
                            "5sec", "ms", "1d", "0x10s", "5m3"}) {
        INFO(bad);
        CHECK_FALSE(parse_duration(bad));
    }
}

TEST_CASE("parse_duration rejects overflow", "[config][units]") {
    CHECK(parse_duration("9223372036854775807ms") == tg::config::Duration::max());
    CHECK_FALSE(parse_duration("9223372036854775808ms"));
    CHECK_FALSE(parse_duration("99999999999999999999s"));
    CHECK_FALSE(parse_duration("2562047788016h"));  // just over 2^63 ms
    CHECK(parse_duration("2562047788015h") == 2562047788015h);
    CHECK(parse_duration("9223372036854775s807ms") == tg::config::Duration::max());
    CHECK_FALSE(parse_duration("9223372036854775s808ms"));  // the sum overflows
}

TEST_CASE("format_duration is the inverse of parse_duration", "[config][units]") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(500ms) == "500ms");
    CHECK(format_duration(90s) == "1m30s");
    CHECK(format_duration(2h) == "2h");
    for (const char* text : {"1h2m3s4ms", "720s", "5m"}) {
        CHECK(parse_duration(format_duration(*parse_duration(text))) == parse_duration(text));
    }
}

TEST_CASE("parse_size reads IEC units and plain bytes", "[config][units]") {
    CHECK(parse_size("512B") == 512u);
    CHECK(parse_size("64KiB") == 64u * 1024);
    CHECK(parse_size("100MiB") == 100ull * 1024 * 1024);
    CHECK(parse_size("1GiB") == 1ull << 30);
    CHECK(parse_size("2TiB") == 2ull << 40);
    CHECK(parse_size("4096") == 4096u);
    CHECK(parse_size("0") == 0u);
}

TEST_CASE("parse_size rejects garbage and overflow", "[config][units]") {
    for (const char* bad : {"", "KiB", "64KB", "64kib", "64 KiB", "-1", "+1", "1.5MiB", "64KiBx",
                            "1MiB1KiB", "18446744073709551616", "16777216TiB", "17179869184GiB"}) {
        INFO(bad);
        CHECK_FALSE(parse_size(bad));
    }
    CHECK(parse_size("18446744073709551615") == 18446744073709551615ull);
    CHECK(parse_size("16777215TiB") == 16777215ull << 40);
}
