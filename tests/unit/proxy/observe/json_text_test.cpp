#include "proxy/observe/json_text.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <string_view>

using tg::proxy::append_json_string;
using tg::proxy::append_rfc3339;
using namespace std::string_literals;

namespace {

std::string json_string(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

/// Parses `json` strictly (boost::json rejects invalid UTF-8 by default) as a string value.
std::string parsed_back(const std::string& json) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(json, ec);
    INFO(json);
    REQUIRE_FALSE(ec);
    REQUIRE(value.is_string());
    return std::string(value.as_string());
}

std::chrono::system_clock::time_point at(std::chrono::year_month_day day,
                                         std::chrono::system_clock::duration time_of_day) {
    return std::chrono::sys_days{day} + time_of_day;
}

}  // namespace

TEST_CASE("quotes, backslashes and the common control characters get short escapes",
          "[proxy][json_text]") {
    CHECK(json_string("") == R"("")");
    CHECK(json_string("plain /web?x=1") == R"("plain /web?x=1")");
    CHECK(json_string(R"(a"b)") == R"("a\"b")");
    CHECK(json_string(R"(a\b)") == R"("a\\b")");
    CHECK(json_string(R"(\")") == R"("\\\"")");
    CHECK(json_string("line1\nline2\r\ttab") == R"("line1\nline2\r\ttab")");
    // Characters JSON itself does not escape are left alone.
    CHECK(json_string("/ ' < > &") == R"("/ ' < > &")");
}

TEST_CASE("other control characters and DEL are \\u00XX escapes", "[proxy][json_text]") {
    CHECK(json_string("\0"s) == R"("\u0000")");
    CHECK(json_string("\x01") == R"("\u0001")");
    CHECK(json_string("\x08\x0c") == R"("\u0008\u000c")");
    CHECK(json_string("\x1b[31m") == R"("\u001b[31m")");
    CHECK(json_string("\x1f") == R"("\u001f")");
    CHECK(json_string("\x7f") == R"("\u007f")");
    CHECK(json_string(" ~") == R"(" ~")");
}

TEST_CASE("append_json_string appends to what is there", "[proxy][json_text]") {
    std::string out = R"({"path":)";
    append_json_string(out, "/a");
    CHECK(out == R"({"path":"/a")");
}

TEST_CASE("UTF-8 passes through unescaped", "[proxy][json_text]") {
    const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xd0\x9e\xd0\xb4\xd1\x83";
    CHECK(json_string(text) == "\"" + text + "\"");
    CHECK(parsed_back(json_string(text)) == text);
}

TEST_CASE("every ASCII byte round-trips through a JSON parser", "[proxy][json_text]") {
    std::string all;
    for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
    const auto json = json_string(all);
    // One line: no raw control character survives.
    for (const char c : json) {
        INFO(static_cast<int>(c));
        CHECK((c >= 0x20 && c != 0x7f));
    }
    CHECK(parsed_back(json) == all);
    CHECK(parsed_back(json_string(R"(/web"},"status":200,"x":")")) ==
          R"(/web"},"status":200,"x":")");
}

TEST_CASE("bytes that are not UTF-8 still give valid JSON", "[proxy][json_text]") {
    // Beast accepts any byte >= 0x80 in a request-target (obs-text), so a client controls them
    // in the logged path: "/caf\xe9" is Latin-1, "\xc3" a truncated sequence, "\xed\xa0\x80" an
    // encoded surrogate, "\xc0\xaf" an overlong "/". RFC 8259 §8.1 requires UTF-8: a strict
    // reader (boost::json, Python reading the log as UTF-8) rejects the whole line otherwise.
    for (const auto* text : {"/caf\xe9", "/a\xc3", "/\xff\xfe", "/\xed\xa0\x80", "/\xc0\xaf"}) {
        const auto json = json_string(text);
        INFO(json);
        boost::system::error_code ec;
        const auto value = boost::json::parse(json, ec);
        CHECK_FALSE(ec);
        if (!ec) CHECK(value.is_string());
    }
}

TEST_CASE("append_rfc3339 writes UTC with milliseconds", "[proxy][json_text]") {
    using namespace std::chrono;
    std::string out;
    append_rfc3339(out, at(2026y / November / 23, hours{19} + minutes{35} + seconds{0} + 123ms));
    CHECK(out == "2026-11-23T19:35:00.123Z");

    // Appends, pads every field, and truncates below the millisecond.
    out = "t=";
    append_rfc3339(
        out, at(2028y / February / 29, hours{3} + minutes{4} + seconds{5} + microseconds{7999}));
    CHECK(out == "t=2028-02-29T03:04:05.007Z");

    out.clear();
    append_rfc3339(out, system_clock::time_point{});
    CHECK(out == "1970-01-01T00:00:00.000Z");

    out.clear();
    append_rfc3339(out, at(1999y / December / 31,
                           hours{23} + minutes{59} + seconds{59} + microseconds{999999}));
    CHECK(out == "1999-12-31T23:59:59.999Z");
}
