#pragma once

#include <string>

namespace tg::tls {

/// Empties this thread's OpenSSL error queue and returns its reasons joined by "; " (e.g.
/// "key values mismatch"), or "unknown OpenSSL error" when it was empty. Called after every
/// failed OpenSSL call, so a stale error never leaks into the next message or handshake.
std::string take_openssl_errors();

}  // namespace tg::tls
