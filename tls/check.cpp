#include "tls/check.hpp"

#include "tls/context_store.hpp"

namespace tg::tls {

std::vector<std::string> check_listener_tls(const config::TlsSettings& settings, SystemTime now,
                                            std::vector<std::string>& warnings) {
    // Building the store for real is the only way to learn what OpenSSL itself refuses.
    StoreResult built = build_store(settings, now, std::make_shared<TicketKeys>(now));
    std::vector<std::string> errors = std::move(built.errors);
    errors.insert(errors.end(), built.validity_errors.begin(), built.validity_errors.end());
    warnings.insert(warnings.end(), built.warnings.begin(), built.warnings.end());
    return errors;
}

}  // namespace tg::tls
