#include "proxy/http/maintenance_page.hpp"

#include <catch2/catch.hpp>

using tg::proxy::maintenance_page;

TEST_CASE("the maintenance page escapes the operator's message", "[proxy][maintenance]") {
    const std::string page = maintenance_page(R"(<script>alert("x")</script> & 'more')");
    CHECK(page.find("<script>") == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;") !=
          std::string::npos);
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
}

TEST_CASE("the maintenance page has a default text", "[proxy][maintenance]") {
    CHECK(maintenance_page("").find("We will be back shortly.") != std::string::npos);
    CHECK(maintenance_page("Back at 10:00").find("<p>Back at 10:00</p>") != std::string::npos);
}
