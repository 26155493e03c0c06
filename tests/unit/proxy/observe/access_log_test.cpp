#include "proxy/observe/access_log.hpp"

#include <stdlib.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/file_fixtures.hpp"

namespace fs = std::filesystem;
using tg::proxy::AccessLog;
using tg::proxy::AccessLogWriter;
using tg::proxy::AccessRecord;

using tg::test::read_file;
using tg::test::TempDir;

namespace {

/// The file's lines, each checked to end in '\n' (no partial line at the end).
std::vector<std::string> read_lines(const fs::path& path) {
    const auto text = read_file(path);
    if (!text.empty()) REQUIRE(text.back() == '\n');
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

boost::json::object parse_line(const std::string& line) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    INFO(line);
    REQUIRE_FALSE(ec);
    REQUIRE(value.is_object());
    return std::move(value.as_object());
}

std::string string_at(const boost::json::object& object, const char* key) {
    INFO(key);
    REQUIRE(object.contains(key));
    REQUIRE(object.at(key).is_string());
    return std::string(object.at(key).as_string());
}

std::int64_t integer_at(const boost::json::object& object, const char* key) {
    INFO(key);
    REQUIRE(object.contains(key));
    REQUIRE(object.at(key).is_number());
    return object.at(key).to_number<std::int64_t>();
}

std::chrono::system_clock::time_point fixed_time() {
    using namespace std::chrono;
    return sys_days{2026y / November / 23} + hours{19} + minutes{35} + 123ms;
}

AccessRecord web_record() {
    AccessRecord record;
    record.time = fixed_time();
    record.request_id = "rid-0001";
    record.client_ip = "203.0.113.7";
    record.tenant = "acme";
    record.route = "web";
    record.method = "POST";
    record.path = "/web/dataset/call_kw";
    record.status = 200;
    record.bytes_in = 1234;
    record.bytes_out = 5000000000;  // over 32 bits: a large download
    record.duration_ms = 1.5;
    record.upstream = "10.1.0.11:8069";
    record.color = "blue";
    return record;
}

}  // namespace

TEST_CASE("each request is one JSON line with every SPEC key", "[proxy][access_log]") {
    TempDir dir("tg-access-log");
    const auto path = dir / "access.log";
    {
        AccessLogWriter writer(path.string());
        AccessLog log(writer);
        REQUIRE(writer.enabled());
        REQUIRE(log.enabled());
        log.record(web_record());

        AccessRecord unknown;  // a 404 before any tenant or upstream was chosen
        unknown.time = fixed_time();
        unknown.request_id = "rid-0002";
        unknown.client_ip = "2001:db8::7";
        unknown.method = "GET";
        unknown.path = "/";
        unknown.status = 404;
        log.record(unknown);

        // Records wait in the worker's buffer until its flush: no lock per request.
        writer.flush();
        CHECK(read_file(path).empty());
        log.flush();
        writer.flush();
        CHECK(writer.dropped_batches() == 0);

        const auto lines = read_lines(path);
        REQUIRE(lines.size() == 2);
        const std::set<std::string> spec_keys = {
            "time",   "request_id", "client_ip", "tenant",      "route",    "method", "path",
            "status", "bytes_in",   "bytes_out", "duration_ms", "upstream", "color"};
        for (const auto& line : lines) {
            const auto object = parse_line(line);
            std::set<std::string> keys;
            for (const auto& entry : object) keys.emplace(entry.key());
            CHECK(keys == spec_keys);
        }

        const auto first = parse_line(lines[0]);
        CHECK(string_at(first, "time") == "2026-11-23T19:35:00.123Z");
        CHECK(string_at(first, "request_id") == "rid-0001");
        CHECK(string_at(first, "client_ip") == "203.0.113.7");
        CHECK(string_at(first, "tenant") == "acme");
        CHECK(string_at(first, "route") == "web");
        CHECK(string_at(first, "method") == "POST");
        CHECK(string_at(first, "path") == "/web/dataset/call_kw");
        CHECK(integer_at(first, "status") == 200);
        CHECK(integer_at(first, "bytes_in") == 1234);
        CHECK(integer_at(first, "bytes_out") == 5000000000);
        REQUIRE(first.at("duration_ms").is_number());
        CHECK(first.at("duration_ms").to_number<double>() == Approx(1.5));
        CHECK(lines[0].find(R"("duration_ms":1.500,)") != std::string::npos);
        CHECK(string_at(first, "upstream") == "10.1.0.11:8069");
        CHECK(string_at(first, "color") == "blue");

        const auto second = parse_line(lines[1]);
        CHECK(string_at(second, "request_id") == "rid-0002");
        CHECK(string_at(second, "client_ip") == "2001:db8::7");
        CHECK(string_at(second, "tenant") == "");
        CHECK(integer_at(second, "status") == 404);
        CHECK(integer_at(second, "bytes_out") == 0);
        CHECK(string_at(second, "upstream") == "");
        CHECK(string_at(second, "color") == "");
    }
}

TEST_CASE("a client-controlled path cannot break the line", "[proxy][access_log]") {
    TempDir dir("tg-access-log");
    const auto path = dir / "access.log";
    const std::string hostile = "/web\"}\n{\"status\":200,\"x\":\"\\\r\x01";
    AccessLogWriter writer(path.string());
    AccessLog log(writer);
    auto record = web_record();
    record.path = hostile;
    record.method = "GET";
    log.record(record);
    log.flush();
    writer.flush();
    const auto lines = read_lines(path);
    REQUIRE(lines.size() == 1);
    const auto object = parse_line(lines[0]);
    CHECK(string_at(object, "path") == hostile);
    CHECK(integer_at(object, "status") == 200);
    CHECK(object.size() == 13);
}

TEST_CASE("a large burst is written whole, line by line", "[proxy][access_log]") {
    // More than the worker's 64 KiB buffer: record() hands batches over on its own.
    TempDir dir("tg-access-log");
    const auto path = dir / "access.log";
    AccessLogWriter writer(path.string());
    AccessLog log(writer);
    constexpr int count = 3000;
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) ids.push_back("rid-" + std::to_string(i));
    const std::string long_path = "/web/content/" + std::string(100, 'x');
    for (int i = 0; i < count; ++i) {
        auto record = web_record();
        record.request_id = ids[static_cast<std::size_t>(i)];
        record.path = long_path;
        log.record(record);
    }
    log.flush();
    writer.flush();
    const auto lines = read_lines(path);
    REQUIRE(lines.size() == count);
    for (int i : {0, 1, count / 2, count - 1}) {
        const auto object = parse_line(lines[static_cast<std::size_t>(i)]);
        CHECK(string_at(object, "request_id") == ids[static_cast<std::size_t>(i)]);
    }
}

TEST_CASE("lines queued at shutdown are written", "[proxy][access_log]") {
    TempDir dir("tg-access-log");
    const auto path = dir / "access.log";
    {
        AccessLogWriter writer(path.string());
        AccessLog log(writer);
        log.record(web_record());
        log.flush();
    }
    const auto lines = read_lines(path);
    REQUIRE(lines.size() == 1);
    CHECK(string_at(parse_line(lines[0]), "request_id") == "rid-0001");
}

TEST_CASE("access_log: off writes nothing", "[proxy][access_log]") {
    const bool off_file_existed = fs::exists("off");
    AccessLogWriter writer("off");
    AccessLog log(writer);
    CHECK_FALSE(writer.enabled());
    CHECK_FALSE(log.enabled());
    log.record(web_record());
    log.flush();
    writer.flush();
    writer.reopen();
    CHECK(writer.dropped_batches() == 0);
    // "off" is a keyword, not a file name.
    CHECK(fs::exists("off") == off_file_existed);
}

TEST_CASE("reopen after logrotate's rename writes to a new file at the original path",
          "[proxy][access_log]") {
    TempDir dir("tg-access-log");
    const auto path = dir / "access.log";
    const auto rotated = dir / "access.log.1";
    AccessLogWriter writer(path.string());
    AccessLog log(writer);

    auto before = web_record();
    before.request_id = "before-rotation";
    log.record(before);
    log.flush();
    writer.flush();

    fs::rename(path, rotated);
    writer.reopen();

    auto after = web_record();
    after.request_id = "after-rotation";
    log.record(after);
    log.flush();
    writer.flush();

    REQUIRE(fs::exists(path));
    const auto fresh = read_lines(path);
    REQUIRE(fresh.size() == 1);
    CHECK(string_at(parse_line(fresh[0]), "request_id") == "after-rotation");
    const auto old = read_lines(rotated);
    REQUIRE(old.size() == 1);
    CHECK(string_at(parse_line(old[0]), "request_id") == "before-rotation");
}

TEST_CASE("without reopen, lines keep going to the renamed file", "[proxy][access_log]") {
    // The counterpart of the test above: it is reopen() that moves the writer, not the rename.
    TempDir dir("tg-access-log");
    const auto path = dir / "access.log";
    const auto rotated = dir / "access.log.1";
    AccessLogWriter writer(path.string());
    AccessLog log(writer);
    log.record(web_record());
    log.flush();
    writer.flush();
    fs::rename(path, rotated);
    log.record(web_record());
    log.flush();
    writer.flush();
    CHECK_FALSE(fs::exists(path));
    CHECK(read_lines(rotated).size() == 2);
}
