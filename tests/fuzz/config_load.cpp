// The YAML config loader (config/load.*) as `tenantgate check` runs it: load_file reads the
// file and hands its text to load_text, which is called here with the file's name. (check's
// TLS step, tls::check_listener_tls, is left out: it opens the certificate paths the input
// names.) A loaded snapshot is then indexed the way every generation indexes it, and every
// host it lists must be routed to its own tenant.
#include <cstdint>
#include <string>
#include <string_view>

#include "config/load.hpp"
#include "fuzz_check.hpp"
#include "host_oracle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view yaml(reinterpret_cast<const char*>(data), size);
    const auto loaded = tg::config::load_text(yaml, "fuzz.yaml", "");
    // A snapshot exactly when there are no errors, and every error names the file.
    FUZZ_CHECK((loaded.snapshot != nullptr) == loaded.errors.empty());
    for (const auto& error : loaded.errors) {
        FUZZ_CHECK(error.line >= 0 && error.column >= 0 && !error.message.empty());
        FUZZ_CHECK(error.to_string().starts_with("fuzz.yaml"));
    }
    if (!loaded.snapshot) return 0;
    const auto& snapshot = *loaded.snapshot;
    FUZZ_CHECK(!tg::config::describe(snapshot).empty());
    for (const auto& [name, tenant] : snapshot.tenants) {
        FUZZ_CHECK(name == tenant->name);
        // A tenant's traffic has somewhere to go.
        const auto& policy = tenant->policy;
        if (policy.release) {
            FUZZ_CHECK(snapshot.pools.contains(policy.release->blue));
            FUZZ_CHECK(snapshot.pools.contains(policy.release->green));
        } else {
            FUZZ_CHECK(snapshot.pools.contains(policy.pool));
        }
    }
    for (const auto& tenant_template : snapshot.tenant_templates)
        FUZZ_CHECK(tenant_template.policy.release ||
                   snapshot.pools.contains(tenant_template.policy.pool));
    const tg::routing::HostTable table(snapshot);
    tg::fuzz::check_snapshot_hosts(snapshot, table);
    return 0;
}
