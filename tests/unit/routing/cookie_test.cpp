#include "routing/cookie.hpp"

#include <catch2/catch.hpp>
#include <string>

using tg::routing::harden_session_cookie;

namespace {

/// The hardened value, or "<unchanged>" when harden_session_cookie declines.
std::string hardened(std::string_view value) {
    std::string out = "untouched";
    if (!harden_session_cookie(value, out)) {
        CHECK(out == "untouched");
        return "<unchanged>";
    }
    return out;
}

}  // namespace

TEST_CASE("Odoo's session cookie gets Secure and SameSite=Lax", "[routing][cookie]") {
    CHECK(hardened("session_id=abc; Expires=Wed, 01 Jan 2025 00:00:00 GMT; Max-Age=604800; "
                   "HttpOnly; Path=/") ==
          "session_id=abc; Expires=Wed, 01 Jan 2025 00:00:00 GMT; Max-Age=604800; HttpOnly; "
          "Path=/; Secure; SameSite=Lax");
    CHECK(hardened("session_id=abc") == "session_id=abc; Secure; SameSite=Lax");
    CHECK(hardened("session_id=") == "session_id=; Secure; SameSite=Lax");  // logout
    CHECK(hardened("session_id=abc; Path=/; ") == "session_id=abc; Path=/; Secure; SameSite=Lax");
    CHECK(hardened("session_id=abc;") == "session_id=abc; Secure; SameSite=Lax");
    CHECK(hardened(" session_id =abc") == " session_id =abc; Secure; SameSite=Lax");
}

TEST_CASE("existing Secure and SameSite attributes are kept", "[routing][cookie]") {
    CHECK(hardened("session_id=abc; Secure") == "session_id=abc; Secure; SameSite=Lax");
    CHECK(hardened("session_id=abc; secure; HttpOnly") ==
          "session_id=abc; secure; HttpOnly; SameSite=Lax");
    CHECK(hardened("session_id=abc; SameSite=Strict") == "session_id=abc; SameSite=Strict; Secure");
    CHECK(hardened("session_id=abc; samesite=None") == "session_id=abc; samesite=None; Secure");
    CHECK(hardened("session_id=abc;SAMESITE = Lax") == "session_id=abc;SAMESITE = Lax; Secure");
    CHECK(hardened("session_id=abc; Secure; SameSite=Lax") == "<unchanged>");
    CHECK(hardened("session_id=abc;SECURE;SameSite=None;Path=/") == "<unchanged>");
}

TEST_CASE("only the session_id cookie is touched", "[routing][cookie]") {
    CHECK(hardened("frontend_lang=en_US; Path=/") == "<unchanged>");
    CHECK(hardened("Session_Id=abc") == "<unchanged>");
    CHECK(hardened("session_id_x=abc") == "<unchanged>");
    CHECK(hardened("x_session_id=abc") == "<unchanged>");
    CHECK(hardened("session_id") == "<unchanged>");
    CHECK(hardened("") == "<unchanged>");
    // Attribute-looking text in the value or a later attribute's value is not an attribute.
    CHECK(hardened("session_id=Secure") == "session_id=Secure; Secure; SameSite=Lax");
    CHECK(hardened("session_id=abc; Path=/Secure") ==
          "session_id=abc; Path=/Secure; Secure; SameSite=Lax");
    CHECK(hardened("session_id=abc; Securely") == "session_id=abc; Securely; Secure; SameSite=Lax");
}
