#include "proxy/state/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "proxy/observe/ops_log.hpp"
#include "proxy/state/runtime_state_json.hpp"
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

}  // namespace

StateFileLoad StateFile::load() const {
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
    result.outcome = StateFileLoad::Outcome::loaded;
    result.state = std::move(*state);
    return result;
}

bool StateFile::save(const RuntimeState& state, std::string& error) const {
    std::string text = runtime_state_text(state);
    text += '\n';
    const std::string temporary = temporary_path(path_);
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = failure("cannot create", temporary, errno);
        return false;
    }
    // The first step that fails is the one reported; the temporary file goes in every case.
    std::string failed;
    if (!write_all(fd, text))
        failed = failure("cannot write", temporary, errno);
    else if (::fsync(fd) != 0)
        failed = failure("cannot fsync", temporary, errno);
    // close() can report a delayed write error (NFS): it counts as a failed write.
    if (::close(fd) != 0 && failed.empty()) failed = failure("cannot close", temporary, errno);
    if (failed.empty() && ::rename(temporary.c_str(), path_.c_str()) != 0)
        failed = failure("cannot rename " + temporary + " to", path_, errno);
    if (!failed.empty()) {
        ::unlink(temporary.c_str());
        error = std::move(failed);
        return false;
    }
    // The new state is in place: the change stands (a restart would read it), so a failed
    // fsync of the directory only weakens its durability against a power loss.
    if (std::string unsynced; !sync_directory(path_, unsynced))
        ops_log::warn("state file saved, but its directory not synced", {{"reason", unsynced}});
    return true;
}

}  // namespace tg::proxy
