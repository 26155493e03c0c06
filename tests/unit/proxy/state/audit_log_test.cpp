#include "proxy/state/audit_log.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/file_fixtures.hpp"

namespace fs = std::filesystem;
using tg::proxy::AuditEntry;
using tg::proxy::AuditLog;
using tg::proxy::AuditResult;
using tg::proxy::token_fingerprint;

using tg::test::FileSizeLimit;
using tg::test::read_file;
using tg::test::TempDir;

namespace {

/// The lines of `text`, each checked to end in '\n' and to be one JSON object.
std::vector<boost::json::object> parse_entries(const std::string& text) {
    if (!text.empty()) REQUIRE(text.back() == '\n');
    std::vector<boost::json::object> entries;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        INFO(line);
        boost::system::error_code ec;
        auto value = boost::json::parse(line, ec);
        REQUIRE_FALSE(ec);
        REQUIRE(value.is_object());
        entries.push_back(std::move(value.as_object()));
    }
    return entries;
}

std::vector<boost::json::object> read_entries(const fs::path& path) {
    return parse_entries(read_file(path));
}

/// What the process writes on stderr (the ops log) while it lives. A pipe, not a file: a file
/// size limit set to make the audit file fail must not silence the report of that failure.
class CapturedStderr {
  public:
    CapturedStderr() {
        int ends[2];
        REQUIRE(::pipe2(ends, O_CLOEXEC | O_NONBLOCK) == 0);
        read_end_ = ends[0];
        saved_ = ::dup(STDERR_FILENO);
        REQUIRE(::dup2(ends[1], STDERR_FILENO) == STDERR_FILENO);
        ::close(ends[1]);
    }
    ~CapturedStderr() {
        restore();
        ::close(read_end_);
    }
    CapturedStderr(const CapturedStderr&) = delete;
    CapturedStderr& operator=(const CapturedStderr&) = delete;
    /// Puts stderr back and returns what was written (a few lines: less than the pipe holds).
    std::string text() {
        restore();
        std::string text;
        char buffer[4096];
        for (ssize_t n; (n = ::read(read_end_, buffer, sizeof buffer)) > 0;)
            text.append(buffer, static_cast<std::size_t>(n));
        return text;
    }

  private:
    void restore() {
        if (saved_ < 0) return;
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        saved_ = -1;
    }
    int read_end_ = -1;
    int saved_ = -1;
};

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t count = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
    return count;
}

std::chrono::system_clock::time_point fixed_time() {
    using namespace std::chrono;
    return sys_days{2026y / December / 5} + hours{6} + 123ms;
}

AuditEntry release_entry() {
    AuditEntry entry;
    entry.time = fixed_time();
    entry.token_fingerprint = token_fingerprint("abc");
    entry.client = "127.0.0.1";
    entry.action = "release";
    entry.tenant = "acme";
    entry.before = boost::json::parse(R"({"active":"blue"})");
    entry.after = boost::json::parse(R"({"active":"green"})");
    entry.result = AuditResult::accepted;
    entry.status = 202;
    entry.forced = true;
    return entry;
}

AuditEntry refused_entry(unsigned status) {
    AuditEntry entry;
    entry.time = fixed_time();
    entry.token_fingerprint = token_fingerprint("");
    entry.client = "::1";
    entry.action = "maintenance";
    entry.result = AuditResult::refused;
    entry.status = status;
    entry.error = "missing bearer token";
    return entry;
}

}  // namespace

TEST_CASE("audit: a token's fingerprint is a short SHA-256, never the token", "[proxy][state]") {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    CHECK(token_fingerprint("abc") == "sha256:ba7816bf8f01cfea");
    CHECK(token_fingerprint("") == "none");
    const std::string token = "s3cr3t-admin-token";
    const auto fingerprint = token_fingerprint(token);
    CHECK(fingerprint.size() == 7 + 16);
    CHECK(fingerprint.find(token) == std::string::npos);
    CHECK(fingerprint != token_fingerprint(token + "x"));
}

TEST_CASE("audit: each call is one line with the contract's keys in order", "[proxy][state]") {
    TempDir dir("tg-audit-log");
    const auto path = dir / "audit.log";
    AuditLog log(path.string());
    REQUIRE(log.is_open());
    log.record(release_entry());
    log.record(refused_entry(401));
    CHECK(read_file(path) ==
          R"({"time":"2026-12-05T06:00:00.123Z","token":"sha256:ba7816bf8f01cfea",)"
          R"("client":"127.0.0.1","action":"release","tenant":"acme","before":{"active":"blue"},)"
          R"("after":{"active":"green"},"result":"accepted","status":202,"forced":true})"
          "\n"
          R"({"time":"2026-12-05T06:00:00.123Z","token":"none","client":"::1",)"
          R"("action":"maintenance","tenant":null,"before":null,"after":null,)"
          R"("result":"refused","status":401,"forced":false,"error":"missing bearer token"})"
          "\n");
}

TEST_CASE("audit: hostile text cannot split or break a line", "[proxy][state]") {
    TempDir dir("tg-audit-log");
    const auto path = dir / "audit.log";
    AuditLog log(path.string());
    auto entry = refused_entry(404);
    entry.tenant = "acme\"}\n{\"result\":\"accepted\x01";
    entry.error = "unknown tenant \xff\n";
    entry.before = boost::json::parse(R"({"message":"line\nbreak"})");
    log.record(entry);
    log.record(release_entry());
    const auto entries = read_entries(path);
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].at("tenant") == "acme\"}\n{\"result\":\"accepted\x01");
    CHECK(entries[0].at("result") == "refused");
    CHECK(entries[0].at("error") == "unknown tenant \xef\xbf\xbd\n");
    CHECK(entries[0].at("before").at("message") == "line\nbreak");
    CHECK(entries[1].at("action") == "release");
}

TEST_CASE("audit: memory keeps the last 1000 lines, oldest first", "[proxy][state]") {
    TempDir dir("tg-audit-log");
    AuditLog log((dir / "audit.log").string());
    for (unsigned i = 0; i < 1005; ++i) log.record(refused_entry(i));
    const auto all = log.last(5000);
    REQUIRE(all.size() == AuditLog::kept_lines);
    CHECK(all.front().at("status") == 5);
    CHECK(all.back().at("status") == 1004);
    const auto recent = log.last(3);
    REQUIRE(recent.size() == 3);
    CHECK(recent[0].at("status") == 1002);
    CHECK(recent[2].at("status") == 1004);
    CHECK(recent[2].at("error") == "missing bearer token");
    CHECK(log.last(0).empty());
    CHECK(read_entries(dir / "audit.log").size() == 1005);
}

TEST_CASE("audit: reopen after logrotate writes to the new file", "[proxy][state]") {
    TempDir dir("tg-audit-log");
    const auto path = dir / "audit.log";
    AuditLog log(path.string());
    log.record(refused_entry(401));
    fs::rename(path, dir / "audit.log.1");
    log.record(refused_entry(403));  // before the signal: still the renamed file
    std::string error;
    REQUIRE(log.reopen(error));
    log.record(release_entry());
    const auto rotated = read_entries(dir / "audit.log.1");
    REQUIRE(rotated.size() == 2);
    CHECK(rotated[1].at("status") == 403);
    const auto fresh = read_entries(path);
    REQUIRE(fresh.size() == 1);
    CHECK(fresh[0].at("status") == 202);
    CHECK((fs::status(path).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
}

TEST_CASE("audit: a failed reopen keeps writing to the old file", "[proxy][state]") {
    TempDir dir("tg-audit-log");
    fs::create_directory(dir / "logs");
    const auto path = dir / "logs" / "audit.log";
    AuditLog log(path.string());
    fs::rename(dir / "logs", dir / "moved");
    std::string error;
    CHECK_FALSE(log.reopen(error));
    CHECK(error == "cannot open audit log " + path.string() + ": No such file or directory");
    log.record(release_entry());
    CHECK(read_entries(dir / "moved" / "audit.log").size() == 1);
}

TEST_CASE("audit: a failing destination keeps lines in memory and says so once", "[proxy][state]") {
    TempDir dir("tg-audit-log");
    const auto path = dir / "audit.log";
    AuditLog log(path.string());
    std::string ops;
    {
        CapturedStderr captured;
        {
            FileSizeLimit limit(0);  // writes fail as on a full disk
            log.record(refused_entry(401));
            log.record(refused_entry(403));
        }
        log.record(release_entry());
        ops = captured.text();
    }
    CHECK(count_of(ops, "cannot write audit log") == 1);
    CHECK(count_of(ops, "File too large") == 1);
    CHECK(count_of(ops, R"("audit log written again")") == 1);
    CHECK(count_of(ops, R"("unwritten_lines":2)") == 1);
    CHECK(log.last(10).size() == 3);
    const auto written = read_entries(path);
    REQUIRE(written.size() == 1);
    CHECK(written[0].at("status") == 202);
}

TEST_CASE("audit: a target that cannot be opened still keeps lines in memory", "[proxy][state]") {
    TempDir dir("tg-audit-log");
    const auto path = dir / "missing" / "audit.log";
    CapturedStderr captured;
    AuditLog log(path.string());
    log.record(refused_entry(403));
    const auto ops = captured.text();
    CHECK_FALSE(log.is_open());
    CHECK(count_of(ops, "cannot open audit log") == 1);
    CHECK(count_of(ops, "cannot write audit log") == 0);
    REQUIRE(log.last(10).size() == 1);
    CHECK(log.last(10)[0].at("status") == 403);
}

TEST_CASE("audit: \"stderr\" writes the line to standard error", "[proxy][state]") {
    CapturedStderr captured;
    AuditLog log("stderr");
    log.record(release_entry());
    std::string error;
    CHECK(log.reopen(error));
    log.record(refused_entry(401));
    const auto entries = parse_entries(captured.text());
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].at("action") == "release");
    CHECK(entries[1].at("status") == 401);
}
