#pragma once

#include <cstddef>
#include <string_view>

namespace tg::proxy {

/// Length of the header block (request line through the empty line) at the start of `data`, or
/// 0 when it is not complete yet.
std::size_t header_block_length(std::string_view data);

/// Checks what Beast's parser tolerates but a front door must refuse (RFC 9112 §2.2, §5.2):
/// a bare LF anywhere, obs-fold continuation lines, NUL bytes. Refusing them closes the gaps
/// through which a request is read differently by the proxy and by the upstream. `block` may
/// be the start of a block still arriving: a violation in it is one in the whole block, so the
/// request is refused at once rather than waited for. Only bytes from `from` on are checked
/// (those before were, as the block grew); the byte before `from` is read for context.
bool header_block_is_strict(std::string_view block, std::size_t from = 0);

}  // namespace tg::proxy
