#pragma once

#include <cstdint>
#include <string>
#include <string_view>

/// X-Request-Id (SPEC §3): kept when the client's is safe to log, generated otherwise.
namespace tg::routing {

/// 1..128 characters of [A-Za-z0-9._:-]: enough for UUIDs and tracing ids, and nothing that
/// could break a JSON access-log line or a header (no quotes, spaces, control characters).
[[nodiscard]] bool is_valid_request_id(std::string_view id) noexcept;

/// Writes 32 lower-case hex digits (128 bits, like a UUID without dashes) of the randomness
/// passed in, reusing `out`'s capacity.
void make_request_id(std::uint64_t random_hi, std::uint64_t random_lo, std::string& out);

}  // namespace tg::routing
