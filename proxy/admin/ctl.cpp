#include "proxy/admin/ctl.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/admin/tenant_definition.hpp"
#include "proxy/io.hpp"

namespace tg::proxy {
namespace {

namespace json = boost::json;
constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr auto request_timeout = std::chrono::seconds(10);

constexpr std::string_view usage =
    "usage: tenantgate ctl [--admin URL] [--token-file F] [--json] COMMAND\n"
    "  status | tenants | tenant NAME | reload | drain\n"
    "  tenant add|set|remove NAME [--file F]   add (never replaces), add or replace, remove a\n"
    "                     tenant through the admin API; F holds its definition (JSON or YAML,\n"
    "                     the shape of tenants.NAME in the config file)\n"
    "  --admin URL        admin API (default http://127.0.0.1:9901)\n"
    "  --token-file F     bearer token for changes (and reads, if required)\n"
    "  --json             print the API's JSON as is\n";

struct Options {
    std::string admin = "http://127.0.0.1:9901";
    std::string token_file;
    std::string file;  ///< tenant add|set: the definition
    bool json = false;
    std::vector<std::string> command;
};

struct Reply {
    unsigned status = 0;
    std::string body;
};

/// One request to the admin API; throws with a readable message when it cannot be made.
Reply call(const Options& options, http::verb method, const std::string& path,
           const std::string& body = {}, bool create_only = false) {
    const auto url = boost::urls::parse_uri(options.admin);
    if (!url || url->scheme() != "http" || url->host().empty())
        throw std::runtime_error("--admin must be an http:// URL, got \"" + options.admin + "\"");
    const std::string host = url->host();
    const std::string port = url->has_port() ? std::string(url->port()) : "80";

    std::string token;
    if (!options.token_file.empty()) {
        std::ifstream file(options.token_file);
        if (!file) throw std::runtime_error("cannot read token file " + options.token_file);
        std::getline(file, token);
    }

    asio::io_context context;
    tcp::resolver resolver(context);
    beast::tcp_stream stream(context);
    error_code ec;
    const auto endpoints = resolver.resolve(host, port, ec);
    if (!ec) {
        stream.expires_after(request_timeout);
        stream.connect(endpoints, ec);
    }
    if (ec)
        throw std::runtime_error("cannot reach admin API at " + options.admin + ": " +
                                 ec.message());

    http::request<http::string_body> request{method, path, 11};
    request.set(http::field::host, host);
    request.set(http::field::user_agent, "tenantgate-ctl");
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    if (create_only) request.set(http::field::if_none_match, "*");
    if (!body.empty()) {
        request.set(http::field::content_type, "application/json");
        request.body() = body;
    }
    request.prepare_payload();
    http::write(stream, request, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    if (!ec) http::read(stream, buffer, response, ec);
    if (ec) throw std::runtime_error("admin API at " + options.admin + " failed: " + ec.message());
    return {response.result_int(), std::move(response.body())};
}

std::string text(const json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_double()) {
        std::ostringstream out;
        out << std::fixed << std::setprecision(3) << v.as_double();
        return out.str();
    }
    if (v.is_null()) return "-";
    if (v.is_array()) {
        std::string joined;
        for (const auto& item : v.as_array()) joined += (joined.empty() ? "" : ",") + text(item);
        return joined;
    }
    return json::serialize(v);
}

void print_fields(const json::object& object, const std::string& prefix = {}) {
    for (const auto& [key, value] : object) {
        if (value.is_object())
            print_fields(value.as_object(), prefix + std::string(key) + ".");
        else
            std::cout << prefix << std::string(key) << ": " << text(value) << "\n";
    }
}

void print_tenants(const json::object& body) {
    std::vector<std::array<std::string, 5>> rows = {
        {"NAME", "HOSTS", "POOL", "IN_FLIGHT", "TUNNELS"}};
    for (const auto& t : body.at("tenants").as_array()) {
        const auto& tenant = t.as_object();
        rows.push_back({text(tenant.at("name")), text(tenant.at("hosts")),
                        text(tenant.at("active_pool")), text(tenant.at("in_flight")),
                        text(tenant.at("tunnels"))});
    }
    std::array<std::size_t, 5> widths{};
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i)
            std::cout << std::left << std::setw(static_cast<int>(widths[i]) + 2) << row[i];
        std::cout << "\n";
    }
    for (const auto& t : body.at("templates").as_array())
        std::cout << "template " << text(t.at("host")) << " -> " << text(t.at("pool")) << "\n";
}

/// The tenant definition in `file` as JSON text: JSON as it is, YAML converted.
std::optional<std::string> read_definition(const std::string& file, std::string& error) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        error = "cannot read " + file;
        return std::nullopt;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json::error_code ec;
    if (const auto value = json::parse(text, ec); !ec) return json::serialize(value);
    const auto converted = json_from_yaml(text, error);
    if (!converted) {
        error = file + ": " + error;
        return std::nullopt;
    }
    return json::serialize(*converted);
}

std::optional<Options> parse(std::span<const std::string_view> args) {
    Options options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto arg = args[i];
        if (arg == "--admin" || arg == "--token-file" || arg == "--file") {
            if (i + 1 == args.size()) {
                std::cerr << "tenantgate ctl: " << arg << " needs a value\n" << usage;
                return std::nullopt;
            }
            (arg == "--admin"        ? options.admin
             : arg == "--token-file" ? options.token_file
                                     : options.file) = args[++i];
        } else if (arg == "--json") {
            options.json = true;
        } else if (arg.starts_with("-")) {
            std::cerr << "tenantgate ctl: unknown option \"" << arg << "\"\n" << usage;
            return std::nullopt;
        } else {
            options.command.emplace_back(arg);
        }
    }
    const auto& c = options.command;
    const auto fail = [](const std::string& why) {
        std::cerr << "tenantgate ctl: " << why << "\n" << usage;
        return std::nullopt;
    };
    if (c.empty()) return fail("expected a command");
    const bool known = c[0] == "status" || c[0] == "tenants" || c[0] == "tenant" ||
                       c[0] == "reload" || c[0] == "drain";
    if (!known) return fail("unknown command \"" + c[0] + "\"");
    const bool changes_tenant =
        c[0] == "tenant" && c.size() > 1 && (c[1] == "add" || c[1] == "set" || c[1] == "remove");
    const std::size_t expected = c[0] == "tenant" ? (changes_tenant ? 3 : 2) : 1;
    if (c.size() < expected) return fail("tenant needs a NAME");
    if (c.size() > expected) return fail("unexpected argument \"" + c[expected] + "\"");
    const bool needs_file = changes_tenant && c[1] != "remove";
    if (needs_file && options.file.empty()) return fail("tenant " + c[1] + " needs --file F");
    if (!needs_file && !options.file.empty()) return fail("--file goes with tenant add and set");
    return options;
}

}  // namespace

int run_ctl(std::span<const std::string_view> args) {
    const auto options = parse(args);
    if (!options) return exit_usage;
    const auto& command = options->command;
    const bool mutating = command[0] == "reload" || command[0] == "drain";
    const bool changes_tenant = command[0] == "tenant" && command.size() == 3;
    const std::string path = command[0] == "status"    ? "/api/v1/status"
                             : command[0] == "tenants" ? "/api/v1/tenants"
                             : command[0] == "tenant"  ? "/api/v1/tenants/" + command.back()
                                                       : "/api/v1/" + command[0];
    http::verb method = mutating ? http::verb::post : http::verb::get;
    std::string request_body;
    if (changes_tenant) {
        method = command[1] == "remove" ? http::verb::delete_ : http::verb::put;
        if (method == http::verb::put) {
            std::string error;
            const auto definition = read_definition(options->file, error);
            if (!definition) {
                std::cerr << "tenantgate ctl: " << error << "\n";
                return exit_failed;
            }
            request_body = *definition;
        }
    }
    Reply reply;
    try {
        reply = call(*options, method, path, request_body, changes_tenant && command[1] == "add");
    } catch (const std::exception& e) {
        std::cerr << "tenantgate ctl: " << e.what() << "\n";
        return exit_failed;
    }
    json::error_code parse_error;
    const auto body = json::parse(reply.body, parse_error);
    if (parse_error || !body.is_object()) {
        std::cerr << "tenantgate ctl: admin API answered " << reply.status << " with no JSON\n";
        return exit_failed;
    }
    const auto& object = body.as_object();
    if (reply.status >= 300) {
        std::cerr << "tenantgate ctl: admin API answered " << reply.status << ": "
                  << (object.contains("error") ? text(object.at("error")) : reply.body) << "\n";
        if (const auto errors = object.if_contains("errors"); errors && errors->is_array())
            for (const auto& e : errors->as_array()) std::cerr << "  " << text(e) << "\n";
        return exit_failed;
    }
    if (options->json) {
        std::cout << reply.body;
        return exit_ok;
    }
    if (command[0] == "tenants")
        print_tenants(object);
    else
        print_fields(object);
    return exit_ok;
}

}  // namespace tg::proxy
