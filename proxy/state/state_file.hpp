#pragma once

#include <string>

#include "proxy/state/runtime_state.hpp"

namespace tg::proxy {

/// What StateFile::load found.
struct StateFileLoad {
    enum class Outcome {
        absent,  ///< no file yet: a fresh start, `state` is empty
        loaded,  ///< `state` is what the file holds
        failed,  ///< `error` says why; the file is left as it is for the operator to look at
    };

    Outcome outcome = Outcome::absent;
    RuntimeState state;
    std::string error;  ///< when failed: the path and what is wrong with it

    /// The state may be used: absent or loaded.
    [[nodiscard]] bool ok() const { return outcome != Outcome::failed; }
};

/// The local copy of the runtime state (`state.state_file`, SPEC §5), so that maintenance and
/// switched colours survive a restart. Used on the control thread only: plain blocking POSIX
/// calls, never on the request path.
class StateFile {
  public:
    explicit StateFile(std::string path) : path_(std::move(path)) {}

    /// Reads the file. A file that exists but cannot be read or parsed is an error, never an
    /// empty state: starting over would silently undo a switch or a maintenance.
    [[nodiscard]] StateFileLoad load() const;

    /// Replaces the file atomically (a temporary file in the same directory, fsync, rename,
    /// fsync of the directory), so that a crash leaves either the old or the new state. On
    /// failure `error` says which step failed, the old file is intact and no temporary file is
    /// left. Once the rename is done the save counts, even if the directory's fsync fails
    /// (logged): a restart reads the new state.
    [[nodiscard]] bool save(const RuntimeState& state, std::string& error) const;

    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace tg::proxy
