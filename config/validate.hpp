#pragma once

#include "config/diagnostics.hpp"
#include "config/snapshot.hpp"

namespace tg::config::detail {

/// Second pass: checks that need more than one value (references to pools, host overlaps,
/// uniqueness, ranges between fields). Values the first pass already reported are skipped.
void validate(const Snapshot& snapshot, Diagnostics& diag);

/// The pools `tenant` names (its pool, or its release's blue and green) exist in `snapshot`.
void check_tenant_pools(const Snapshot& snapshot, const Tenant& tenant, Diagnostics& diag);

/// The message for a host claimed twice: by `owner` first, then by `tenant`.
std::string host_overlap_message(std::string_view host, std::string_view owner,
                                 std::string_view tenant);

}  // namespace tg::config::detail
