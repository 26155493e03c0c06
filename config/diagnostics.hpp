#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/mark.h>

#include "config/load.hpp"

namespace tg::config::detail {

/// "x" -> "\"x\"", the way every message shows a value from the file.
std::string in_quotes(std::string_view text);

/// Collects every error and warning of one load, and remembers where each key path was written
/// so that the cross-reference pass, which works on the Snapshot, can still point into the file.
class Diagnostics {
  public:
    explicit Diagnostics(std::string file) : file_(std::move(file)) {}

    /// Records the position of the node named by `path` (first pass).
    void remember(const std::string& path, const YAML::Mark& mark);
    /// Whether the node named by `path` was written in the file.
    bool present(std::string_view path) const;
    /// Where `path` was written; a null mark when it was not.
    YAML::Mark position(std::string_view path) const;

    /// An error at an explicit position (first pass, parse errors).
    void error(const YAML::Mark& mark, std::string path, std::string message);
    /// An error at the remembered position of `path` (second pass).
    void error(std::string path, std::string message);
    void warning(std::string path, std::string message);

    /// Whether an error was reported for `path` or anything under it; the second pass skips
    /// such values so that one mistake is reported once, not again as a broken reference.
    bool failed(std::string_view path) const;

    /// Errors in file order, positionless ones first.
    std::vector<ConfigError> take_errors();
    std::vector<std::string> take_warnings();

  private:
    ConfigError make(const YAML::Mark& mark, std::string path, std::string message) const;

    std::string file_;
    std::map<std::string, YAML::Mark, std::less<>> positions_;
    std::vector<ConfigError> errors_;
    std::vector<ConfigError> warnings_;
};

}  // namespace tg::config::detail
