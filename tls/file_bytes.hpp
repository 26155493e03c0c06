#pragma once

#include <cstddef>
#include <string>

namespace tg::tls {

/// A whole small file, or why it could not be read.
struct FileBytes {
    std::string data;
    int error = 0;  ///< errno; EFBIG when the file exceeds the limit
};

/// Certificates, keys and chains are a few KiB; the limit keeps a path mistyped as /dev/zero or
/// a log file from exhausting memory.
inline constexpr std::size_t max_tls_file_bytes = 1024 * 1024;

/// Reads `path` whole (following symlinks, as Kubernetes secret volumes need).
FileBytes read_file_bytes(const std::string& path, std::size_t limit = max_tls_file_bytes);

}  // namespace tg::tls
