#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/runtime_tenants.hpp"
#include "proxy/state/runtime_state.hpp"
#include "routing/host_table.hpp"

namespace tg::proxy {

/// What is served: the config file's tenants with the runtime ones merged in, and its host table.
struct ServedTenants {
    std::shared_ptr<const config::Snapshot> snapshot;
    routing::HostTable hosts;  ///< indexes `snapshot`
    /// One line per runtime tenant left out (config::MergedSnapshot::problems).
    std::vector<std::string> problems;
    /// Tenants the previous merge served and this one does not.
    std::vector<std::shared_ptr<const config::Tenant>> removed;
};

/// Serves the config file's tenants with the runtime ones merged in. A merge over the same file
/// as the last one, where no runtime tenant was left out, applies only the definitions that
/// changed to what it served last (one tenant of 20,000: microseconds, with the snapshot's
/// tenant map and the host table sharing everything else); any other merge is a full one
/// (config::merge_runtime_tenants). Both give the same result. Not thread-safe: the server uses
/// it from its idle thread only.
class TenantMerger {
  public:
    /// `file` with `definitions` (tombstones skipped) merged over it. A definition that does
    /// not parse (only another version's schema can get here: a replica accepted it) is logged
    /// and left out, as are the conflicts config::merge_runtime_tenants reports.
    [[nodiscard]] ServedTenants merge(std::shared_ptr<const config::Snapshot> file,
                                      const RuntimeTenants& definitions);

    /// Runtime tenants parsed (those served, and those left out for a conflict).
    [[nodiscard]] std::size_t parsed() const { return parsed_.size(); }

  private:
    /// Parses again the definitions that differ from the last merge's; returns their names.
    std::vector<std::string> parse_changes(const RuntimeTenants& definitions);
    /// The last result with `changed` applied, or nothing when one of them does not fit as is
    /// (a conflict, a pool gone): the full merge decides and reports those.
    std::optional<ServedTenants> apply_changes(const std::vector<std::string>& changed) const;
    ServedTenants merge_all(const std::shared_ptr<const config::Snapshot>& file) const;

    config::Tenants parsed_;                        ///< by name, the definitions that parse
    RuntimeTenants definitions_;                    ///< as of the last merge
    std::shared_ptr<const config::Snapshot> file_;  ///< of the last merge
    ServedTenants served_;                          ///< the last merge's result
};

}  // namespace tg::proxy
