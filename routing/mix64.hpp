#pragma once

#include <cstdint>

namespace tg::routing {

/// The 64-bit finaliser of MurmurHash3: every input bit affects every output bit.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t value) noexcept {
    value ^= value >> 33;
    value *= 0xff51afd7ed558ccdull;
    value ^= value >> 33;
    value *= 0xc4ceb9fe1a85ec53ull;
    value ^= value >> 33;
    return value;
}

}  // namespace tg::routing
