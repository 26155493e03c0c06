#pragma once

#include <span>
#include <string_view>

namespace tg::proxy {

/// `tenantgate ctl [--admin URL] [--token-file F] [--json] COMMAND ...`: talks to a running
/// instance's admin API. Returns the process exit code (0 ok, 1 failed, 2 usage).
int run_ctl(std::span<const std::string_view> args);

}  // namespace tg::proxy
