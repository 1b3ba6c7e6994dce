-- ssl.https (LuaSec's API) against a TLS test server on 127.0.0.1
-- (TEST_URL, https), whose certificate is in CA_FILE. The test server
-- answers /echo with "METHOD PATH\nBODY" and never answers /stall.

local https = require("ssl.https")
local ltn12 = require("ltn12")

function test_module_shape()
  eq(type(https.request), "function")
  eq(https.PORT, 443)
  eq(https.TIMEOUT, 60)
  eq(require("ssl.https"), https)
end

function test_ours_string_form_verifies_by_default()
  -- LuaSec's default is verify = "none"; pushlua verifies against the
  -- system roots, which do not know the test server's certificate.
  local body, err = https.request(TEST_URL .. "/echo")
  eq(body, nil)
  eq(err, "certificate verify failed")
end

function test_table_form_with_cafile()
  local out = {}
  local one, code, headers, status = https.request{
    url = TEST_URL .. "/echo?x=1", method = "POST",
    source = ltn12.source.string("hello"), headers = {["content-length"] = 5},
    sink = ltn12.sink.table(out), cafile = CA_FILE, verify = "peer",
  }
  eq(one, 1)
  eq(code, 200)
  eq(status, "HTTP/1.1 200 OK")
  eq(headers["content-type"], "text/plain")
  eq(table.concat(out), "POST /echo?x=1\nhello")
end

function test_verify_none()
  local out = {}
  local one, code = https.request{url = TEST_URL .. "/echo", sink = ltn12.sink.table(out), verify = "none"}
  eq(one, 1)
  eq(code, 200)
  eq(table.concat(out), "GET /echo\n")
end

function test_verify_list()
  local one, code = https.request{url = TEST_URL .. "/echo", cafile = CA_FILE, verify = {"peer", "fail_if_no_peer_cert"}}
  eq(one, 1)
  eq(code, 200)
  local r, err = https.request{url = TEST_URL .. "/echo", verify = {"peer", "fail_if_no_peer_cert"}}
  eq(r, nil)
  eq(err, "certificate verify failed")
end

function test_errors_luasec_gives()
  local r, err = https.request{url = TEST_URL .. "/echo", proxy = "http://127.0.0.1:3128"}
  eq(r, nil); eq(err, "proxy not supported")
  r, err = https.request{url = TEST_URL .. "/echo", redirect = true}
  eq(r, nil); eq(err, "redirect not supported")
  r, err = https.request{url = TEST_URL .. "/echo", create = function() end}
  eq(r, nil); eq(err, "create function not permitted")
  r, err = https.request{url = TEST_URL .. "/echo", cafile = CA_FILE .. ".missing"}
  eq(r, nil); eq(err, "error loading CA locations (No such file or directory)")
  r, err = https.request{url = TEST_URL .. "/echo", cafile = CA_FILE, protocol = "sslv2"}
  eq(r, nil); eq(err, "invalid protocol (sslv2)")
end

function test_timeout()
  local old = https.TIMEOUT
  https.TIMEOUT = 0.2
  local r, err = https.request{url = TEST_URL .. "/stall", cafile = CA_FILE}
  https.TIMEOUT = old
  eq(r, nil)
  eq(err, "timeout")
end

function test_ours_string_form_post_verifies_too()
  -- The string form has no TLS parameters: it cannot turn verification off.
  local body, err = https.request(TEST_URL .. "/echo", "a=b")
  eq(body, nil)
  eq(err, "certificate verify failed")
end
