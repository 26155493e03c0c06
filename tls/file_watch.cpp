#include "tls/file_watch.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tls/file_bytes.hpp"

namespace tg::tls {
namespace {

FileState state_of(const std::string& path) {
    FileState state;
    state.path = path;
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
        state.error = errno;
        return state;
    }
    const FileBytes bytes = read_file_bytes(path);
    if (bytes.error != 0) {
        state.error = bytes.error;
        return state;
    }
    state.device = static_cast<std::uint64_t>(info.st_dev);
    state.inode = static_cast<std::uint64_t>(info.st_ino);
    state.size = static_cast<std::uint64_t>(info.st_size);
    state.mtime_ns =
        static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
    unsigned int length = 0;
    if (EVP_Digest(bytes.data.data(), bytes.data.size(), state.sha256.data(), &length, EVP_sha256(),
                   nullptr) != 1)
        state.error = EIO;  // never seen in practice; counts as a change, so a rebuild says more
    return state;
}

/// Content and readability only; see changes().
bool same_content(const FileState& a, const FileState& b) {
    return a.path == b.path && a.error == b.error && a.sha256 == b.sha256;
}

bool same_content(const Fingerprint& a, const Fingerprint& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const FileState& x, const FileState& y) { return same_content(x, y); });
}

std::string describe(const FileState* before, const FileState& after) {
    if (after.error != 0) return after.path + ": now unreadable: " + std::strerror(after.error);
    if (before == nullptr) return after.path + ": now watched";
    if (before->error != 0) return after.path + ": readable again";
    // A new inode is Kubernetes' symlink swap or an editor's rename; the same one, an in-place
    // rewrite (cert-manager, cp).
    const bool replaced = before->inode != after.inode || before->device != after.device;
    return after.path + (replaced ? ": replaced" : ": rewritten in place");
}

}  // namespace

std::vector<std::string> tls_files(const config::TlsSettings& settings) {
    std::vector<std::string> paths;
    const auto add = [&](const std::string& path) {
        if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
    };
    for (const auto& files : settings.certificates) {
        add(files.cert);
        add(files.key);
    }
    return paths;
}

Fingerprint fingerprint(const std::vector<std::string>& paths) {
    Fingerprint result;
    result.reserve(paths.size());
    for (const auto& path : paths) result.push_back(state_of(path));
    return result;
}

std::vector<std::string> changes(const Fingerprint& previous, const Fingerprint& current) {
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < current.size(); ++i) {
        const FileState& after = current[i];
        // Same paths in the same order is the rule; a search only when the list changed.
        const FileState* found =
            i < previous.size() && previous[i].path == after.path ? &previous[i] : nullptr;
        if (found == nullptr) {
            const auto at = std::find_if(previous.begin(), previous.end(),
                                         [&](const FileState& s) { return s.path == after.path; });
            if (at != previous.end()) found = &*at;
        }
        if (found == nullptr || !same_content(*found, after))
            lines.push_back(describe(found, after));
    }
    for (const FileState& before : previous) {
        const bool kept = std::any_of(current.begin(), current.end(),
                                      [&](const FileState& s) { return s.path == before.path; });
        if (!kept) lines.push_back(before.path + ": no longer watched");
    }
    return lines;
}

bool changed(const Fingerprint& previous, const Fingerprint& current) {
    return !same_content(previous, current);
}

ReloadTrigger::ReloadTrigger(Fingerprint loaded) {
    reset(std::move(loaded));
}

bool ReloadTrigger::poll(const Fingerprint& current) {
    const bool settled = same_content(last_seen_, current);
    last_seen_ = current;
    if (!settled || !changed(loaded_, current)) return false;
    loaded_ = current;
    return true;
}

void ReloadTrigger::reset(Fingerprint loaded) {
    last_seen_ = loaded;
    loaded_ = std::move(loaded);
}

}  // namespace tg::tls
