#include "proxy/state/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "proxy/observe/ops_log.hpp"
#include "proxy/state/runtime_state_json.hpp"
#include "routing/balancer.hpp"
#include "tls/file_bytes.hpp"

namespace tg::proxy {
namespace {

/// A state of thousands of tenants is a few MiB; the limit keeps a path mistyped as a large file
/// from exhausting memory.
constexpr std::size_t max_state_file_bytes = 16 * 1024 * 1024;

std::string failure(std::string_view what, const std::string& path, int error_number) {
    return std::string(what) + " " + path + ": " + std::strerror(error_number);
}

/// Writes all of `data`; false with errno set otherwise.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

/// A name no other writer uses: two replicas sharing a volume, or a save racing a leftover
/// from a crash, each get their own temporary file (and O_EXCL refuses a clash).
std::string temporary_path(const std::string& target) {
    return target + ".tmp-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::random_device{}());
}

/// Makes the rename itself durable: without this, a power loss may bring the old name back.
bool sync_directory(const std::string& target, std::string& error) {
    const auto parent = std::filesystem::path(target).parent_path();
    const std::string directory = parent.empty() ? std::string(".") : parent.string();
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        error = failure("cannot open directory", directory, errno);
        return false;
    }
    const bool synced = ::fsync(fd) == 0;
    if (!synced) error = failure("cannot fsync directory", directory, errno);
    ::close(fd);
    return synced;
}

/// Writes `text` to `fd` and syncs it (`sync`: fsync or fdatasync); what failed first, or empty.
std::string write_and_sync(int fd, std::string_view text, const std::string& path,
                           int (*sync)(int)) {
    if (!write_all(fd, text)) return failure("cannot write", path, errno);
    if (sync(fd) != 0) return failure("cannot fsync", path, errno);
    return {};
}

/// Replaces `target` with `text` through a temporary file (fsync, rename); the directory is
/// not synced. On failure the target is intact and the temporary file gone.
bool replace_file(const std::string& target, std::string_view text, std::string& error) {
    const std::string temporary = temporary_path(target);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = failure("cannot create", temporary, errno);
        return false;
    }
    // The first step that fails is the one reported; the temporary file goes in every case.
    std::string failed = write_and_sync(fd, text, temporary, ::fsync);
    // close() can report a delayed write error (NFS): it counts as a failed write.
    if (::close(fd) != 0 && failed.empty()) failed = failure("cannot close", temporary, errno);
    if (failed.empty() && ::rename(temporary.c_str(), target.c_str()) != 0)
        failed = failure("cannot rename " + temporary + " to", target, errno);
    if (!failed.empty()) {
        ::unlink(temporary.c_str());
        error = std::move(failed);
        return false;
    }
    return true;
}

/// A journal's first line: the state file it follows, by a hash of its bytes that is the same
/// in every build (FNV-1a), so that a journal left from before a crash is not replayed over a
/// newer state.
std::string journal_header(std::string_view state_text) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(routing::stable_hash(state_text)));
    return std::string(R"({"journal_of":")") + hex + "\"}\n";
}

}  // namespace

StateFileLoad StateFile::load() {
    StateFileLoad result;
    const tls::FileBytes bytes = tls::read_file_bytes(path_, max_state_file_bytes);
    if (bytes.error == ENOENT) return result;
    if (bytes.error != 0) {
        result.outcome = StateFileLoad::Outcome::failed;
        result.error = failure("cannot read state file", path_, bytes.error);
        return result;
    }
    std::string parse_error;
    auto state = runtime_state_from_json(bytes.data, parse_error);
    if (!state) {
        result.outcome = StateFileLoad::Outcome::failed;
        result.error = "state file " + path_ + ": " + parse_error;
        return result;
    }
    state_bytes_ = bytes.data.size();
    // Until a rewrite starts a journal bound to this state, nothing is appended.
    journal_lines_ = max_journal_lines;
    if (!replay_journal(bytes.data, *state, result.error)) {
        result.outcome = StateFileLoad::Outcome::failed;
        return result;
    }
    result.outcome = StateFileLoad::Outcome::loaded;
    result.state = *state;
    saved_ = std::move(*state);
    return result;
}

bool StateFile::replay_journal(std::string_view state_text, RuntimeState& state,
                               std::string& error) {
    const tls::FileBytes bytes = tls::read_file_bytes(journal_path_, max_state_file_bytes);
    if (bytes.error == ENOENT) return true;
    if (bytes.error != 0) {
        error = failure("cannot read state journal", journal_path_, bytes.error);
        return false;
    }
    std::string_view rest = bytes.data;
    const auto next_line = [&]() -> std::optional<std::string_view> {
        const auto end = rest.find('\n');
        if (end == std::string_view::npos) return std::nullopt;
        const auto line = rest.substr(0, end + 1);
        rest.remove_prefix(end + 1);
        return line;
    };
    if (next_line() != journal_header(state_text)) {
        ops_log::warn("state journal belongs to another state file (a save was cut short), ignored",
                      {{"journal", journal_path_}});
        return true;
    }
    std::size_t lines = 0;
    bool cut_short = false;
    while (const auto line = next_line()) {
        std::string parse_error;
        const auto change = runtime_state_from_json(*line, parse_error);
        if (!change) {
            // Lines are whole when appended (a failed append is cut off again): only a crash
            // can leave a bad line, and only as the last one.
            if (!rest.empty()) {
                error = "state journal " + journal_path_ + " line " + std::to_string(lines + 2) +
                        ": " + parse_error;
                return false;
            }
            cut_short = true;
            break;
        }
        apply_changed_entries(state, *change);
        ++lines;
    }
    if (cut_short || !rest.empty()) {
        // Appending after the cut would leave a bad line inside: the next save rewrites.
        ops_log::warn("state journal ends with a change cut short by a crash, ignored",
                      {{"journal", journal_path_}});
        return true;
    }
    journal_lines_ = lines;
    journal_bytes_ = bytes.data.size();
    return true;
}

bool StateFile::save(const RuntimeState& state, std::string& error) {
    const bool journal_has_room = journal_lines_ < max_journal_lines &&
                                  journal_bytes_ <= std::max(state_bytes_, min_journal_bytes);
    if (saved_ && journal_has_room) {
        bool fall_back = false;
        if (append(state, error, fall_back)) return true;
        if (!fall_back) return false;
    }
    return rewrite(state, error);
}

bool StateFile::append(const RuntimeState& state, std::string& error, bool& fall_back) {
    // The line is the state's own format with only the entries that changed. A line sets
    // entries and cannot drop one: a state that lost an entry is rewritten whole.
    const RuntimeState change = changed_entries(*saved_, state, fall_back);
    if (fall_back) return false;
    std::string line = runtime_state_text(change);
    line += '\n';
    // A load reads at most max_state_file_bytes of the journal.
    if (journal_bytes_ + line.size() > max_state_file_bytes) {
        fall_back = true;
        return false;
    }
    const int fd = ::open(journal_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        fall_back = true;  // the journal went away: a rewrite starts a new one
        return false;
    }
    std::string failed = write_and_sync(fd, line, journal_path_, ::fdatasync);
    // A line cut short would stop every later one from loading: what was written goes.
    if (!failed.empty() && ::ftruncate(fd, static_cast<off_t>(journal_bytes_)) != 0)
        journal_lines_ = max_journal_lines;  // unknown tail: the next save rewrites
    // Once synced the line is on disk and counts, whatever close() says.
    if (::close(fd) != 0 && failed.empty())
        ops_log::warn("state journal line saved, but closing the journal failed",
                      {{"journal", journal_path_}, {"reason", std::strerror(errno)}});
    if (!failed.empty()) {
        error = std::move(failed);
        return false;
    }
    journal_bytes_ += line.size();
    ++journal_lines_;
    saved_ = state;
    return true;
}

bool StateFile::rewrite(const RuntimeState& state, std::string& error) {
    std::string text = runtime_state_text(state);
    text += '\n';
    if (!replace_file(path_, text, error)) return false;
    // The state is in place and the change stands. Its rename is made durable before the old
    // journal goes: a power loss must not keep the new journal and lose the new state.
    // (A failed fsync of the directory only weakens durability against a power loss.)
    saved_ = state;
    state_bytes_ = text.size();
    if (std::string unsynced; !sync_directory(path_, unsynced))
        ops_log::warn("state file saved, but its directory not synced", {{"reason", unsynced}});
    // Should the new journal fail, the old one, bound to the old state, is ignored by a load;
    // nothing is appended until a rewrite works.
    const std::string header = journal_header(text);
    std::string journal_error;
    if (!replace_file(journal_path_, header, journal_error)) {
        journal_lines_ = max_journal_lines;
        ops_log::warn("state saved whole, but its journal not started",
                      {{"reason", journal_error}});
        return true;
    }
    journal_bytes_ = header.size();
    journal_lines_ = 0;
    if (std::string unsynced; !sync_directory(journal_path_, unsynced))
        ops_log::warn("state journal started, but its directory not synced",
                      {{"reason", unsynced}});
    return true;
}

}  // namespace tg::proxy
