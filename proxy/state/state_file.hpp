#pragma once

#include <optional>
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

/// The local copy of the runtime state (`state.state_file`, SPEC §5), so that maintenance,
/// switched colours and runtime tenants survive a restart. Two files: the state itself
/// (`PATH`), and a journal beside it (`PATH.journal`) of the changes saved since, one line
/// each. A change to one of 20,000 runtime tenants appends a line of a few hundred bytes
/// instead of rewriting megabytes; once the journal outgrows its bound, the next save rewrites
/// the state whole and starts a new journal. Used on the control thread only: plain blocking
/// POSIX calls, never on the request path.
class StateFile {
  public:
    explicit StateFile(std::string path)
        : path_(std::move(path)), journal_path_(path_ + ".journal") {}

    /// Reads the state and replays its journal. A file that exists but cannot be read or
    /// parsed is an error, never an empty state: starting over would silently undo a switch or
    /// a maintenance. A journal written for another state file (a crash between the two
    /// renames of a rewrite) is ignored, and so is a last line cut short by a crash.
    [[nodiscard]] StateFileLoad load();

    /// Makes `state` what a load returns, durably (fsync) before returning: appended to the
    /// journal, or the state replaced atomically (a temporary file in the same directory,
    /// fsync, rename, fsync of the directory) with a new journal, so that a crash leaves either
    /// the old or the new state. On failure `error` says which step failed, what a load
    /// returns is unchanged and no temporary file is left. Once the rename is done the save
    /// counts, even if the directory's fsync fails (logged).
    [[nodiscard]] bool save(const RuntimeState& state, std::string& error);

    const std::string& path() const { return path_; }

    /// A journal of more lines than this, or bigger than the state file, is folded into it.
    static constexpr std::size_t max_journal_lines = 1000;

  private:
    /// A journal is allowed to grow to the state file's size, and to this much at least.
    static constexpr std::size_t min_journal_bytes = 64 * 1024;

    /// Applies the journal bound to `state_text` (the state file's bytes) to `state`.
    bool replay_journal(std::string_view state_text, RuntimeState& state, std::string& error);
    /// Writes `state` whole, with an empty journal bound to it.
    bool rewrite(const RuntimeState& state, std::string& error);
    /// Appends the change from saved_ to `state`; false with `error` when it could not, and
    /// `fall_back` set when a rewrite should be done instead (what changed has no journal line).
    bool append(const RuntimeState& state, std::string& error, bool& fall_back);

    std::string path_;
    std::string journal_path_;
    std::optional<RuntimeState> saved_;  ///< what a load returns now; unknown before one
    std::size_t state_bytes_ = 0;
    std::size_t journal_bytes_ = 0;
    std::size_t journal_lines_ = 0;  ///< changes in the journal
};

}  // namespace tg::proxy
