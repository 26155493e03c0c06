#pragma once

#include <map>
#include <string>

#include "config/runtime_tenants.hpp"
#include "proxy/state/runtime_state.hpp"

namespace tg::proxy {

/// Serves the config file's tenants with the runtime ones merged in. Keeps every runtime
/// definition parsed, with the text it was parsed from, so that a change parses only what
/// changed. Not thread-safe: the server uses it from its idle thread only.
class TenantMerger {
  public:
    /// `file` with `definitions` (tombstones skipped) merged over it. A definition that does
    /// not parse (only another version's schema can get here: a replica accepted it) is logged
    /// and left out, as are the conflicts config::merge_runtime_tenants reports.
    [[nodiscard]] config::MergedSnapshot merge(
        const config::Snapshot& file,
        const std::map<std::string, RuntimeTenant, std::less<>>& definitions);

    /// Runtime tenants parsed (those served, and those left out for a conflict).
    [[nodiscard]] std::size_t parsed() const { return tenants_.size(); }

  private:
    config::Tenants tenants_;  ///< parsed, by name
    /// By name, the text each definition was parsed from, those that failed included.
    std::map<std::string, std::string, std::less<>> texts_;
};

}  // namespace tg::proxy
