#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/snapshot.hpp"

/// YAML → validated, immutable Snapshot (SPEC §2). Nothing here throws: every problem found is
/// returned, each with its position and key path (SPEC §1).
namespace tg::config {

/// One problem in a config file.
struct ConfigError {
    std::string file;
    int line = 0;  ///< 1-based; 0 when the problem has no position (unreadable file, empty file)
    int column = 0;
    std::string path;  ///< key path, e.g. "listeners[1].tls.certificates[0].cert"
    std::string message;

    /// "file:line:col: key.path: message", or "file: key.path: message" without a position.
    std::string to_string() const;
};

/// The outcome of a load: a snapshot exactly when `errors` is empty.
struct LoadResult {
    std::shared_ptr<const Snapshot> snapshot;  ///< null when errors is non-empty
    std::vector<ConfigError> errors;
    std::vector<std::string> warnings;  ///< formatted like ConfigError::to_string
};

/// Loads and validates a config file; relative paths inside it are resolved against its
/// directory. An unreadable file yields one error naming it.
LoadResult load_file(const std::string& path);

/// Loads YAML text; `display_name` prefixes messages and becomes Snapshot::source, `base_dir`
/// resolves relative file paths (empty: leave them relative to the working directory).
LoadResult load_text(std::string_view yaml, const std::string& display_name,
                     const std::string& base_dir);

/// The config used when no --config is given: one plain listener on 127.0.0.1:8080 in front of
/// a local Odoo on 8069/8072.
std::string_view embedded_demo_config();

/// One-line summary for `tenantgate check`, e.g.
/// "2 listeners, 3 pools, 2 tenants, 1 tenant template, 1 freeze window".
std::string describe(const Snapshot& snapshot);

}  // namespace tg::config
