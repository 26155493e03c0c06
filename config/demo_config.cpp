#include "config/load.hpp"

namespace tg::config {

std::string_view embedded_demo_config() {
    // A local Odoo (odoo-bin --workers=2 serves HTTP on 8069 and gevent on 8072) behind a
    // plain listener; any *.localhost name becomes a tenant of the same name.
    static constexpr std::string_view demo = R"yaml(# tenantgate embedded demo configuration
workers: 0
access_log: stdout
audit_log: stderr
listeners:
  - name: http
    address: 127.0.0.1:8080
admin:
  address: 127.0.0.1:9901
state:
  state_file: tenantgate.state.json
pools:
  demo:
    web: [127.0.0.1:8069]
    longpolling: [127.0.0.1:8072]
    balance: round_robin
    health_check: { path: /web/health, interval: 5s, timeout: 2s, fall: 3, rise: 2 }
tenants:
  demo:
    hosts: [localhost, demo.localhost, 127.0.0.1]
    pool: demo
    rate_limit: { requests_per_second: 100, burst: 200 }
    database_manager: allow
tenant_templates:
  - host: "{tenant}.localhost"
    pool: demo
    odoo_dbfilter_header: true
)yaml";
    return demo;
}

}  // namespace tg::config
