#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

namespace tg::proxy {

/// Who called, without the secret: "sha256:" and the first 16 hex digits of SHA-256(token), or
/// "none" when no token was sent. Enough to tell tokens apart in the audit trail; the token
/// itself never reaches a log.
[[nodiscard]] std::string token_fingerprint(std::string_view token);

/// Whether a mutating admin call changed anything.
enum class AuditResult { accepted, refused };

/// One mutating admin call, accepted or refused (SPEC §5; refusals by auth included).
struct AuditEntry {
    std::chrono::system_clock::time_point time;
    std::string token_fingerprint;  ///< token_fingerprint() of the bearer token, never the token
    std::string client;             ///< the client address
    std::string
        action;  ///< "maintenance", "release", "reload", "drain", "tenant_set" or "tenant_remove"
    std::optional<std::string> tenant;
    boost::json::value before;  ///< null when there is nothing to show
    boost::json::value after;
    AuditResult result = AuditResult::accepted;
    unsigned status = 0;  ///< the HTTP status answered
    bool forced = false;  ///< a release switched inside a freeze window with force
    std::string error;    ///< why it was refused; empty (and left out of the line) otherwise
};

/// The audit trail: one JSON line per mutating admin call to `audit_log` ("stderr" or a file,
/// reopened on SIGUSR1), and the last lines in memory for GET /api/v1/audit. Used on the
/// control thread only, hence no lock. A failing destination (disk full) never fails the admin
/// call: the line stays in memory and the failure goes to the ops log, once per outage.
class AuditLog {
  public:
    /// How many lines GET /api/v1/audit can return.
    static constexpr std::size_t kept_lines = 1000;

    /// Opens `target`; when that fails the ops log says so and lines are only kept in memory
    /// until a reopen() succeeds.
    explicit AuditLog(std::string target);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    /// Writes the entry as one line with a single write(2), so lines never interleave.
    void record(const AuditEntry& entry);
    /// Opens the target again after logrotate moved it; on failure the old descriptor stays
    /// in use and `error` says why.
    [[nodiscard]] bool reopen(std::string& error);
    /// The most recent `limit` entries, oldest first.
    [[nodiscard]] boost::json::array last(std::size_t limit) const;

    /// The destination is open (false after a failed first open).
    [[nodiscard]] bool is_open() const { return fd_ >= 0; }
    const std::string& target() const { return target_; }

  private:
    void write_line(const std::string& line);

    std::string target_;
    int fd_ = -1;
    bool failing_ = false;           ///< the last write failed and was reported
    bool torn_ = false;              ///< the file ends in a partial line
    std::uint64_t unwritten_ = 0;    ///< lines lost to the destination since it failed
    std::deque<std::string> lines_;  ///< the last kept_lines lines, without their newline
};

}  // namespace tg::proxy
