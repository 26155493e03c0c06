#pragma once

#include <string>
#include <string_view>

/// Hardening of Odoo's session cookie on HTTPS responses (SPEC §3 Odoo specifics).
namespace tg::routing {

/// For a Set-Cookie value whose cookie is `session_id` (RFC 6265 §4.1.1), writes to `out` the
/// value with "; Secure" appended when no Secure attribute is present and "; SameSite=Lax"
/// when no SameSite attribute is (attribute names compared case-insensitively, §5.2). Odoo
/// sets neither behind a TLS-terminating proxy. Returns false, leaving `out` untouched, when
/// the cookie is another one or already has both attributes.
[[nodiscard]] bool harden_session_cookie(std::string_view set_cookie_value, std::string& out);

}  // namespace tg::routing
