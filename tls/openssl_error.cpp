#include "tls/openssl_error.hpp"

#include <openssl/err.h>

namespace tg::tls {

std::string take_openssl_errors() {
    std::string text;
    while (const unsigned long error = ERR_get_error()) {
        if (!text.empty()) text += "; ";
        // The reason alone reads well in a config error; the full string adds library and
        // function codes only an OpenSSL developer can use.
        if (const char* reason = ERR_reason_error_string(error)) {
            text += reason;
        } else {
            char buffer[256];
            ERR_error_string_n(error, buffer, sizeof buffer);
            text += buffer;
        }
    }
    return text.empty() ? "unknown OpenSSL error" : text;
}

}  // namespace tg::tls
