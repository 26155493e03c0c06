#pragma once

#include <string>

namespace tg::proxy {

/// This process among the replicas sharing one Redis: host name, pid and a random part, so a
/// restarted replica (same host and, in a container, same pid) is a new one.
[[nodiscard]] std::string make_replica_id();

}  // namespace tg::proxy
