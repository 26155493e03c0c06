#include "routing/route_rule.hpp"

#include <catch2/catch.hpp>
#include <string>

using tg::routing::classify_route;
using tg::routing::is_database_manager_path;
using tg::routing::Route;
using tg::routing::route_name;
using tg::routing::target_path;

TEST_CASE("target_path strips query and fragment and reads absolute-form",
          "[routing][route_rule]") {
    CHECK(target_path("/web/login?redirect=/odoo") == "/web/login");
    CHECK(target_path("/web#action=12") == "/web");
    CHECK(target_path("/a?b#c") == "/a");
    CHECK(target_path("/") == "/");
    CHECK(target_path("") == "");
    CHECK(target_path("*") == "*");
    CHECK(target_path("http://erp.acme.com/web/login?x=1") == "/web/login");
    CHECK(target_path("HTTPS://erp.acme.com:8443/websocket") == "/websocket");
    CHECK(target_path("http://erp.acme.com") == "/");
    CHECK(target_path("http://erp.acme.com?x=/web/database") == "/");
    CHECK(target_path("erp.acme.com:443") == "erp.acme.com:443");  // authority-form
}

TEST_CASE("classify_route sends Odoo's long-lived paths to the gevent worker",
          "[routing][route_rule]") {
    CHECK(classify_route("/websocket") == Route::longpolling);
    CHECK(classify_route("/websocket?version=17.0-1") == Route::longpolling);
    CHECK(classify_route("/websocket/") == Route::longpolling);
    CHECK(classify_route("/websocket/peek") == Route::longpolling);
    CHECK(classify_route("/longpolling/poll") == Route::longpolling);
    CHECK(classify_route("/longpolling/im_status") == Route::longpolling);
    CHECK(classify_route("/longpolling/") == Route::longpolling);
    CHECK(classify_route("http://erp.acme.com/websocket") == Route::longpolling);

    CHECK(classify_route("/") == Route::web);
    CHECK(classify_route("/web") == Route::web);
    CHECK(classify_route("/longpolling") == Route::web);
    CHECK(classify_route("/websockets") == Route::web);
    CHECK(classify_route("/websocket.js") == Route::web);
    CHECK(classify_route("/web/websocket") == Route::web);
    CHECK(classify_route("/web?x=/websocket") == Route::web);
    CHECK(classify_route("/WEBSOCKET") == Route::web);
    CHECK(classify_route("") == Route::web);
}

TEST_CASE("route_name gives the metrics label", "[routing][route_rule]") {
    CHECK(route_name(Route::web) == "web");
    CHECK(route_name(Route::longpolling) == "longpolling");
}

TEST_CASE("is_database_manager_path catches the plain spellings", "[routing][route_rule]") {
    CHECK(is_database_manager_path("/web/database"));
    CHECK(is_database_manager_path("/web/database/"));
    CHECK(is_database_manager_path("/web/database/manager"));
    CHECK(is_database_manager_path("/web/database/selector?debug=1"));
    CHECK(is_database_manager_path("/web/database/backup#x"));
    CHECK(is_database_manager_path("http://erp.acme.com/web/database/drop"));

    CHECK_FALSE(is_database_manager_path("/web"));
    CHECK_FALSE(is_database_manager_path("/web/databases"));
    CHECK_FALSE(is_database_manager_path("/web/database.js"));
    CHECK_FALSE(is_database_manager_path("/web/login?redirect=/web/database/manager"));
    CHECK_FALSE(is_database_manager_path("/web/content/web/database"));
    CHECK_FALSE(is_database_manager_path("/Web/Database/manager"));  // werkzeug is case-sensitive
    CHECK_FALSE(is_database_manager_path("/web/assets/1/web.assets_frontend.min.js"));
    CHECK_FALSE(is_database_manager_path(""));
    CHECK_FALSE(is_database_manager_path("/"));
}

TEST_CASE("is_database_manager_path sees through percent-encoding", "[routing][route_rule]") {
    CHECK(is_database_manager_path("/web/%64atabase/manager"));
    CHECK(is_database_manager_path("/web/%64%61%74%61%62%61%73%65"));
    CHECK(is_database_manager_path("/web/%44atabase/manager") == false);  // %44 is 'D'
    CHECK(is_database_manager_path("/web%2Fdatabase%2Fmanager"));
    CHECK(is_database_manager_path("/web%2fdatabase"));
    CHECK(is_database_manager_path("%2Fweb%2Fdatabase%2Fmanager"));
    CHECK(is_database_manager_path("/%77%65%62/database/list"));
    CHECK(is_database_manager_path("/web/database%2F..%2Fdatabase/manager"));
    CHECK_FALSE(is_database_manager_path("/web/%2564atabase/manager"));  // decoded once
    CHECK_FALSE(is_database_manager_path("/web/%6"));
    CHECK_FALSE(is_database_manager_path("/web/database%"));
    CHECK_FALSE(is_database_manager_path("/web/databas%zz"));
    CHECK_FALSE(is_database_manager_path("/web/database%3Fx"));  // an encoded '?' stays in the path
}

TEST_CASE("is_database_manager_path merges slashes and resolves dot segments",
          "[routing][route_rule]") {
    CHECK(is_database_manager_path("//web//database/list"));
    CHECK(is_database_manager_path("/web//database"));
    CHECK(is_database_manager_path("///web///database///manager"));
    CHECK(is_database_manager_path("/web/./database/manager"));
    CHECK(is_database_manager_path("/./web/database"));
    CHECK(is_database_manager_path("/x/../web/database/manager"));
    CHECK(is_database_manager_path("/../../web/database"));
    CHECK(is_database_manager_path("/web/x/y/../../database"));
    CHECK(is_database_manager_path("/web/database/manager/.."));
    CHECK(is_database_manager_path("/web/database/."));
    CHECK(is_database_manager_path("/web/%2e/database/manager"));
    CHECK(is_database_manager_path("/x/%2e%2e/web/database"));
    // As sent, these are under the manager; Odoo (which does not resolve dots) would see them so.
    CHECK(is_database_manager_path("/web/database/.."));
    CHECK(is_database_manager_path("/web/database/../../web/login"));

    CHECK_FALSE(is_database_manager_path("/web/.database"));
    CHECK_FALSE(is_database_manager_path("/web/..database/manager"));
    CHECK_FALSE(is_database_manager_path("/web/x/../../database"));
    CHECK_FALSE(is_database_manager_path("//web//login"));
}

TEST_CASE("is_database_manager_path handles paths longer than its stack buffer",
          "[routing][route_rule]") {
    const std::string padding = "/" + std::string(3000, 'a') + "/..";
    CHECK(is_database_manager_path(padding + "/web/database/manager"));
    CHECK(is_database_manager_path("/web/database/" + std::string(5000, '%')));
    CHECK_FALSE(is_database_manager_path(padding + "/web/login"));
    CHECK_FALSE(is_database_manager_path("/web/" + std::string(4000, '/') + "login"));
}
