#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "config/snapshot.hpp"

/// Noticing renewed certificates by polling (SPEC §2 "hot certificate reload").
///
/// Polling, not inotify: Kubernetes updates a secret volume by swapping the `..data` symlink, which
/// replaces every file without touching the watched inodes; cert-manager and certbot may rewrite
/// files in place; network and overlay filesystems deliver no events at all. Hashing a few
/// thousand files of a few KiB every few seconds costs milliseconds and sees all of these alike.
namespace tg::tls {

/// One file as seen by one poll. stat() follows symlinks: the identity is the target's.
struct FileState {
    std::string path;
    int error = 0;  ///< errno when it could not be read; the other fields are then zero
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::array<unsigned char, 32> sha256{};  ///< of the content

    bool operator==(const FileState&) const = default;
};

/// The states of a listener's files, in a fixed order.
using Fingerprint = std::vector<FileState>;

/// The cert and key paths of `settings`, each once, in configuration order.
std::vector<std::string> tls_files(const config::TlsSettings& settings);

/// Stats and hashes every path (errors are recorded, not thrown).
Fingerprint fingerprint(const std::vector<std::string>& paths);

/// What differs in content or readability, one line per file ("certs/a.pem: replaced",
/// "certs/a.pem: rewritten in place", "certs/a.key: now unreadable: ..."), for the reload log.
/// A file whose metadata changed but whose content did not (touch, an identical secret
/// re-projected) is not a change: rebuilding would serve the same bytes.
std::vector<std::string> changes(const Fingerprint& previous, const Fingerprint& current);

/// True when changes() is not empty.
bool changed(const Fingerprint& previous, const Fingerprint& current);

/// Decides when to rebuild: once the files differ from those last loaded and have held still
/// for one poll. A renewal writes the cert and the key one after the other; loading between the
/// two would fail on a mismatched pair, so the pair is loaded once it is settled.
class ReloadTrigger {
  public:
    /// `loaded`: the fingerprint taken just before the current store was built.
    explicit ReloadTrigger(Fingerprint loaded);

    /// Feeds one poll's fingerprint; true means "rebuild now", after which `current` counts as
    /// loaded: a build that fails is not retried until the files change again.
    bool poll(const Fingerprint& current);
    /// After a rebuild for another reason (config reload): `loaded` as in the constructor.
    void reset(Fingerprint loaded);

  private:
    Fingerprint loaded_;
    Fingerprint last_seen_;
};

}  // namespace tg::tls
