#include "proxy/state/audit_log.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstring>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "proxy/observe/json_text.hpp"
#include "proxy/observe/ops_log.hpp"

namespace tg::proxy {
namespace {

/// The descriptor for `target`, or -1 with errno set.
int open_target(const std::string& target) {
    if (target == "stderr") return STDERR_FILENO;
    return ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

void close_target(int fd) {
    if (fd > STDERR_FILENO) ::close(fd);
}

std::string render(const AuditEntry& entry) {
    // The token is only ever written as its fingerprint: an entry made with the raw token would
    // put a secret in the log.
    assert(entry.token_fingerprint == "none" || entry.token_fingerprint.starts_with("sha256:"));
    // "error" is written only when refused (the contract): an accepted call has none.
    assert(entry.result == AuditResult::refused || entry.error.empty());
    std::string line = "{\"time\":\"";
    append_rfc3339(line, entry.time);
    line.append("\",\"token\":");
    append_json_string(line, entry.token_fingerprint);
    line.append(",\"client\":");
    append_json_string(line, entry.client);
    line.append(",\"action\":");
    append_json_string(line, entry.action);
    line.append(",\"tenant\":");
    if (entry.tenant)
        append_json_string(line, *entry.tenant);
    else
        line.append("null");
    line.append(",\"before\":").append(boost::json::serialize(entry.before));
    line.append(",\"after\":").append(boost::json::serialize(entry.after));
    line.append(entry.result == AuditResult::accepted ? ",\"result\":\"accepted\""
                                                      : ",\"result\":\"refused\"");
    line.append(",\"status\":").append(std::to_string(entry.status));
    line.append(entry.forced ? ",\"forced\":true" : ",\"forced\":false");
    if (!entry.error.empty()) {
        line.append(",\"error\":");
        append_json_string(line, entry.error);
    }
    line.push_back('}');
    return line;
}

}  // namespace

std::string token_fingerprint(std::string_view token) {
    if (token.empty()) return "none";
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    const bool hashed =
        EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr) == 1;
    assert(hashed && length == 32);
    // Should SHA-256 ever be unavailable (a broken FIPS provider), say so rather than a value
    // that looks like a real fingerprint.
    if (!hashed) return "sha256:unavailable";
    static constexpr char hex[] = "0123456789abcdef";
    std::string fingerprint = "sha256:";
    for (std::size_t i = 0; i < 8; ++i) {
        fingerprint.push_back(hex[digest[i] >> 4]);
        fingerprint.push_back(hex[digest[i] & 0xf]);
    }
    return fingerprint;
}

AuditLog::AuditLog(std::string target) : target_(std::move(target)), fd_(open_target(target_)) {
    if (fd_ >= 0) return;
    failing_ = true;  // reported here, not again by the first record()
    ops_log::error("cannot open audit log; its lines are kept in memory only",
                   {{"path", target_}, {"reason", std::strerror(errno)}});
}

AuditLog::~AuditLog() {
    close_target(fd_);
}

void AuditLog::record(const AuditEntry& entry) {
    std::string line = render(entry);
    write_line(line);
    if (lines_.size() == kept_lines) lines_.pop_front();
    lines_.push_back(std::move(line));
}

void AuditLog::write_line(const std::string& line) {
    // One write(2) of the whole line (O_APPEND): lines never interleave, even with another
    // process appending to the same file. After a short write (disk full) the file ends in a
    // partial line: the next line starts on a line of its own.
    std::string out = torn_ ? "\n" + line + "\n" : line + "\n";
    ssize_t written = -1;
    int write_errno = EBADF;
    if (fd_ >= 0) {
        do {
            written = ::write(fd_, out.data(), out.size());
        } while (written < 0 && errno == EINTR);
        write_errno = errno;
    }
    if (written == static_cast<ssize_t>(out.size())) {
        torn_ = false;
        if (failing_) {
            ops_log::info(
                "audit log written again",
                {{"path", target_}, {"unwritten_lines", std::to_string(unwritten_), true}});
            failing_ = false;
            unwritten_ = 0;
        }
        return;
    }
    if (written > 0) torn_ = true;
    ++unwritten_;
    if (failing_) return;
    failing_ = true;
    ops_log::error(
        "cannot write audit log; its lines are kept in memory only",
        {{"path", target_}, {"reason", written < 0 ? std::strerror(write_errno) : "short write"}});
}

bool AuditLog::reopen(std::string& error) {
    if (target_ == "stderr") return true;
    // Open the new file first: if that fails, the old one (renamed, but still writable) is
    // better than losing lines.
    const int fd = open_target(target_);
    if (fd < 0) {
        error = "cannot open audit log " + target_ + ": " + std::strerror(errno);
        return false;
    }
    close_target(fd_);
    fd_ = fd;
    torn_ = false;  // a partial line belongs to the old file
    return true;
}

boost::json::array AuditLog::last(std::size_t limit) const {
    boost::json::array entries;
    const std::size_t count = std::min(limit, lines_.size());
    entries.reserve(count);
    for (auto line = lines_.end() - static_cast<std::ptrdiff_t>(count); line != lines_.end();
         ++line) {
        boost::system::error_code ec;
        boost::json::value entry = boost::json::parse(*line, ec);
        assert(!ec && "render() writes valid JSON");
        entries.push_back(std::move(entry));
    }
    return entries;
}

}  // namespace tg::proxy
