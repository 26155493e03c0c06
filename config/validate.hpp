#pragma once

#include "config/diagnostics.hpp"
#include "config/snapshot.hpp"

namespace tg::config::detail {

/// Second pass: checks that need more than one value (references to pools, host overlaps,
/// uniqueness, ranges between fields). Values the first pass already reported are skipped.
void validate(const Snapshot& snapshot, Diagnostics& diag);

}  // namespace tg::config::detail
