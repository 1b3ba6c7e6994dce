-- Tests of dovecot.http (spec §5.6, §8.6). Every test_* function runs in a
-- fresh state with its own test server; see TestHTTPLua for the globals
-- (base_url, refused_url, refused_addr, test_hits).

-- matches checks got against a Go regular expression (go-lua has no
-- Lua patterns).
local function matches(got, pattern, what)
  if type(got) ~= "string" or not test_match(got, pattern) then
    fail(string.format("%s: got %s; want a match of %s", what or "value", tostring(got), pattern))
  end
end

local P = "pushlua(alice@example.com)<t1>: "

local function get(settings, path, method, payload)
  local req = dovecot.http.client(settings):request({url = base_url .. path, method = method})
  if payload then
    req:set_payload(payload)
  end
  return req:submit()
end

-- Object shapes (FINDINGS §1): plain tables, methods as fields, no
-- metatables.

function test_http_table()
  eq(type(rawget(dovecot, "http")), "table", "rawget(dovecot, 'http')")
  eq(sorted_keys(dovecot.http), "client", "dovecot.http keys")
  eq(getmetatable(dovecot.http), nil, "metatable of dovecot.http")
  eq(type(dovecot.http.client), "function", "type(dovecot.http.client)")
end

function test_object_shapes()
  local c = dovecot.http.client({})
  eq(sorted_keys(c), "item request", "client keys")
  eq(type(c.item), "userdata", "type(client.item)")
  eq(type(rawget(c, "request")), "function", "client.request is a field")
  eq(getmetatable(c), nil, "client metatable")

  local req = c:request({url = base_url .. "/ok"})
  eq(sorted_keys(req), "add_header item remove_header set_payload submit", "request keys")
  eq(type(req.item), "userdata", "type(request.item)")
  for _, m in ipairs({"add_header", "remove_header", "set_payload", "submit"}) do
    eq(type(rawget(req, m)), "function", "request." .. m .. " is a field")
  end
  eq(getmetatable(req), nil, "request metatable")

  local resp = req:submit()
  eq(sorted_keys(resp), "header item payload reason status", "response keys")
  eq(type(resp.item), "userdata", "type(response.item)")
  for _, m in ipairs({"status", "payload", "header", "reason"}) do
    eq(type(rawget(resp, m)), "function", "response." .. m .. " is a field")
  end
  eq(getmetatable(resp), nil, "response metatable")

  -- an internal error is a response object too
  local failed = dovecot.http.client({}):request({url = refused_url}):submit()
  eq(sorted_keys(failed), "header item payload reason status", "failed response keys")
end

-- Requests and responses.

function test_get()
  local resp = get({}, "/ok")
  eq(resp:status(), 200, "status")
  eq(resp:reason(), "OK", "reason")
  eq(resp:payload(), "hello", "payload")
  eq(resp:header("X-Test"), "one", "first of two values")
  eq(resp:header("x-TEST"), "one", "case-insensitive name")
  eq(resp:header("Content-Length"), "5", "Content-Length")
  eq(resp:header("Missing"), "", "missing header")
  eq(resp:header("X-Test\0ignored"), "one", "name cut at NUL")
  eq(test_hits("/ok"), 1, "hits")
end

function test_methods_and_payload()
  eq(get({}, "/echo?a=1&b"):payload(), "GET /echo?a=1&b\n", "default method")
  eq(get({}, "/echo", "DELETE"):payload(), "DELETE /echo\n", "DELETE")
  local resp = get({user_agent = "agent/1.0"}, "/echo", "POST", "some data\0not sent")
  eq(resp:payload(), "POST /echo\nsome data", "payload up to the NUL")
  eq(resp:header("X-Echo-User-Agent"), "agent/1.0", "User-Agent")
  eq(resp:header("X-Echo-Content-Length"), "9", "Content-Length")
  matches(resp:header("X-Echo-Date"), "^[A-Z][a-z]{2}, \\d\\d [A-Z][a-z]{2} \\d{4} \\d\\d:\\d\\d:\\d\\d GMT$", "Date")
  eq(resp:header("X-Echo-Host"), base_url:sub(8), "Host")
  eq(resp:header("X-Echo-Authorization"), "", "no Authorization")
  -- no User-Agent unless set
  eq(get({}, "/echo"):header("X-Echo-User-Agent"), "", "no User-Agent by default")
  eq(get({user_agent = ""}, "/echo"):header("X-Echo-User-Agent"), "", "empty user_agent")
end

function test_headers()
  local req = dovecot.http.client({}):request({url = base_url .. "/echo"})
  eq(req:add_header("X-One", "1"), nil, "add_header returns nothing")
  req:add_header("x-one", "2")
  req:add_header("X-Two", 2)
  req:add_header("X-Gone", "x")
  eq(req:remove_header("x-gone"), nil, "remove_header returns nothing")
  req:remove_header("X-Never-Added")
  eq(req:set_payload(""), nil, "set_payload returns nothing")
  local resp = req:submit()
  eq(resp:header("X-Echo-X-One"), "2", "replaced value")
  eq(resp:header("X-Echo-X-Two"), "2", "number value")
  eq(resp:header("X-Echo-X-Gone"), "", "removed header")
end

function test_basic_auth()
  local host = base_url:sub(8)
  local url = "http://alice:s%3acret@" .. host .. "/echo"
  local resp = dovecot.http.client({}):request({url = url}):submit()
  eq(resp:header("X-Echo-Authorization"), "Basic YWxpY2U6czpjcmV0", "Authorization")
  -- no password or no user: no Authorization
  for _, userinfo in ipairs({"alice@", ":secret@"}) do
    url = "http://" .. userinfo .. host .. "/echo"
    resp = dovecot.http.client({}):request({url = url}):submit()
    eq(resp:header("X-Echo-Authorization"), "", "Authorization with " .. userinfo)
  end
end

function test_status_not_retried()
  local resp = get({max_attempts = 3}, "/status/500")
  eq(resp:status(), 500, "status")
  eq(resp:reason(), "Internal Server Error", "reason")
  eq(resp:payload(), "status body", "payload")
  eq(test_hits("/status/500"), 1, "attempts")
  resp = get({max_attempts = 3}, "/status/503")
  eq(resp:status(), 503, "503 without Retry-After")
  eq(test_hits("/status/503"), 1, "503 attempts")
  eq(get({}, "/status/204"):payload(), "", "204 payload")
end

function test_connect_refused()
  local resp = dovecot.http.client({max_attempts = 3}):request({url = refused_url}):submit()
  eq(resp:status(), 9003, "status")
  eq(resp:reason(), "connect(" .. refused_addr .. ") failed: Connection refused", "reason")
  eq(resp:payload(), "", "payload")
  eq(resp:header("Content-Length"), "", "header")
end

function test_timeout()
  local resp = get({request_timeout_msecs = 100, max_attempts = 2}, "/hang")
  eq(resp:status(), 9008, "status")
  matches(resp:reason(), "^Request timed out \\(Request queued \\d+\\.\\d{3} secs ago, 1 times retried, 2 send attempts in \\d+\\.\\d{3} secs, \\d+\\.\\d{3} in last attempt, \\d+\\.\\d{3} in http ioloop, 0\\.000 in other ioloops, connected \\d+\\.\\d{3} secs ago\\)$", "reason")
  eq(test_hits("/hang"), 2, "attempts")
end

function test_timeout_no_auto_retry()
  local resp = get({request_timeout_msecs = 100, max_attempts = 3, no_auto_retry = true}, "/hang")
  eq(resp:status(), 9008, "status")
  matches(resp:reason(), "^Request timed out \\(Request queued \\d+\\.\\d{3} secs ago, 1 send attempts in ", "reason")
  eq(test_hits("/hang"), 1, "attempts")
end

function test_absolute_timeout()
  local resp = get({request_absolute_timeout_msecs = 100, max_attempts = 3}, "/hang")
  eq(resp:status(), 9008, "status")
  matches(resp:reason(), "^Absolute request timeout expired \\(Request queued \\d+\\.\\d{3} secs ago, 1 send attempts in \\d+\\.\\d{3} secs, \\d+\\.\\d{3} in http ioloop, 0\\.000 in other ioloops\\)$", "reason")
  eq(test_hits("/hang"), 1, "attempts")
end

function test_connection_lost()
  local resp = get({max_attempts = 2}, "/close", "POST")
  eq(resp:status(), 9005, "status")
  matches(resp:reason(), "^Connection lost: read\\(127\\.0\\.0\\.1:\\d+\\) failed: EOF \\(Request queued .* 1 times retried, 2 send attempts in .*, connected \\d+\\.\\d{3} secs ago\\)$", "reason")
  eq(test_hits("/close"), 2, "attempts")
end

function test_retried_statuses()
  local resp = get({max_attempts = 2}, "/once-408")
  eq(resp:status(), 200, "408 retried")
  eq(resp:payload(), "second", "payload after 408")
  resp = get({max_attempts = 2}, "/busy")
  eq(resp:status(), 200, "503 with Retry-After retried")
  eq(resp:payload(), "ready", "payload after 503")
end

function test_retry_after_too_long()
  -- a Retry-After beyond the attempt timeout: the answer as it is
  local resp = get({max_redirects = 1, max_attempts = 2}, "/later")
  eq(resp:status(), 302, "redirect status")
  eq(resp:header("Retry-After"), "3600", "Retry-After")
  resp = get({max_attempts = 2}, "/later?busy")
  eq(resp:status(), 503, "503 status")
  eq(test_hits("/later"), 2, "attempts")
  eq(test_hits("/echo"), 0, "redirect target")
end

function test_retried_statuses_need_attempts()
  local resp = get({no_auto_retry = true}, "/once-408")
  eq(resp:status(), 408, "408 without attempts left")
  eq(resp:reason(), "Request Timeout", "408 reason")
  resp = get({}, "/busy")
  eq(resp:status(), 503, "503 without attempts left")
  eq(resp:header("Retry-After"), "0", "Retry-After")
end

-- Redirects (spec §8.6: refused by default).

function test_redirect_refused()
  local resp = get({}, "/redirect/1")
  eq(resp:status(), 9004, "status")
  eq(resp:reason(), "Redirect refused", "reason")
  eq(test_hits("/echo"), 0, "target requested")
end

function test_redirects_followed()
  local resp = get({max_redirects = 3}, "/redirect/3")
  eq(resp:status(), 200, "status after 3 redirects")
  eq(resp:payload(), "GET /echo\n", "payload")
  resp = get({max_redirects = 3}, "/redirect/4")
  eq(resp:status(), 9004, "status after 4 redirects")
  eq(resp:reason(), "Redirected more than 3 times", "reason")
end

function test_redirect_methods()
  -- 302 keeps the method and the payload, 303 makes a GET without one
  local resp = get({max_redirects = 1}, "/redirect/1", "POST", "data")
  eq(resp:payload(), "POST /echo\ndata", "after 302")
  resp = get({max_redirects = 1}, "/see-other", "POST", "data")
  eq(resp:payload(), "GET /echo\n", "after 303")
  eq(resp:header("X-Echo-Content-Length"), "", "no Content-Length after 303")
end

function test_redirect_credentials_kept()
  local url = "http://u:p@" .. base_url:sub(8) .. "/redirect/1"
  local resp = dovecot.http.client({max_redirects = 1}):request({url = url}):submit()
  eq(resp:header("X-Echo-Authorization"), "Basic dTpw", "Authorization after the redirect")
end

function test_no_auto_redirect()
  local resp = get({no_auto_redirect = true, max_redirects = 3}, "/redirect/1")
  eq(resp:status(), 302, "status")
  eq(resp:reason(), "Found", "reason")
  eq(resp:header("location"), base_url .. "/echo", "Location")
end

function test_invalid_redirects()
  local resp = get({max_redirects = 1}, "/relative")
  eq(resp:status(), 9004, "relative status")
  eq(resp:reason(), "Invalid redirect location: Relative HTTP URL not allowed", "relative reason")
  resp = get({}, "/userinfo")
  eq(resp:reason(), "Invalid redirect location: HTTP URL does not allow `userinfo@' part", "userinfo reason")
  resp = get({}, "/not-modified")
  eq(resp:status(), 304, "304 is no redirect")
end

-- Debug log of a read payload.

function test_payload_debug_log()
  test_logs()
  get({}, "/ok")
  expect_logs({P .. "Debug: lua: DEBUG: REQUEST: Finished"})
  get({}, "/status/204")
  expect_logs({})
  test_set_debug(false)
  get({}, "/ok")
  expect_logs({})
end

-- dovecot.http.client(settings)

function test_client_arguments()
  expect_error("expected 1 arguments, got 0", function() dovecot.http.client() end)
  expect_error("expected 1 arguments, got 2", function() dovecot.http.client({}, {}) end)
  expect_error(test_where() .. "bad argument #1 to 'client' (table expected, got string)", function() dovecot.http.client("x") end)
  expect_error(test_where() .. "bad argument #1 to 'client' (table expected, got nil)", function() dovecot.http.client(nil) end)
end

function test_client_settings()
  -- unknown keys are ignored, integral floats and UINT_MAX accepted
  dovecot.http.client({foo = "bar", dns_client_socket_path = "x", ssl_client_ca_dir = 1})
  dovecot.http.client({max_attempts = 2.0, request_timeout_msecs = 4294967295, debug = false})
  dovecot.http.client({user_agent = "ua", rawlog_dir = "/tmp", no_auto_redirect = true, no_auto_retry = false})
  -- proxy_url that is not a string is ignored
  dovecot.http.client({proxy_url = 5})
  dovecot.http.client({proxy_url = "http://user:pw@127.0.0.1:3128"})
  dovecot.http.client({event_parent = dovecot.event()})
  dovecot.http.client({event_parent = dovecot.event():passthrough_event()})
end

function test_client_setting_errors()
  local E = "Invalid HTTP client setting: "
  for _, key in ipairs({"user_agent", "rawlog_dir"}) do
    for _, v in ipairs({1, true, {}}) do
      expect_error(E .. key .. ": string expected", function() dovecot.http.client({[key] = v}) end)
    end
  end
  for _, key in ipairs({"max_idle_time_msecs", "max_redirects", "max_attempts", "max_connect_attempts",
      "connect_backoff_time_msecs", "connect_backoff_max_time_msecs", "request_absolute_timeout_msecs",
      "request_timeout_msecs", "connect_timeout_msecs", "soft_connect_timeout_msecs", "max_auto_retry_delay_secs"}) do
    for _, v in ipairs({-1, 1.5, "5", 4294967296, true}) do
      expect_error(E .. key .. ": non-negative number expected", function() dovecot.http.client({[key] = v}) end)
    end
  end
  for _, key in ipairs({"no_auto_redirect", "no_auto_retry", "debug"}) do
    for _, v in ipairs({1, "yes", {}}) do
      expect_error(E .. key .. ": boolean expected", function() dovecot.http.client({[key] = v}) end)
    end
  end
  -- the first bad key in Dovecot's order is reported
  expect_error(E .. "user_agent: string expected", function() dovecot.http.client({debug = 1, user_agent = 2}) end)
  expect_error(E .. "no_auto_redirect: boolean expected", function() dovecot.http.client({max_redirects = -1, no_auto_redirect = 0}) end)
  expect_error(E .. "max_attempts: non-negative number expected", function() dovecot.http.client({debug = 1, max_attempts = -1}) end)
  expect_error(E .. "proxy_url is invalid: Relative HTTP URL not allowed", function() dovecot.http.client({proxy_url = "/x"}) end)
  expect_error(E .. "proxy_url is invalid: Not an HTTP URL", function() dovecot.http.client({proxy_url = "socks5://h"}) end)
  expect_error("Bad argument #-1, expected struct event got string", function() dovecot.http.client({event_parent = "x"}) end)
  expect_error("Bad argument #-1, expected struct event got table", function() dovecot.http.client({event_parent = {}}) end)
end

-- client:request{...}

function test_request_errors()
  local c = dovecot.http.client({})
  expect_error("expected 2 arguments, got 1", function() c:request() end)
  expect_error("expected 2 arguments, got 3", function() c:request({}, {}) end)
  expect_error("cannot create request: url not specified", function() c:request({}) end)
  expect_error("cannot create request: url not specified", function() c:request({method = "GET"}) end)
  expect_error(test_where() .. "bad argument #1 to 'request' (table expected, got string)", function() c:request("x") end)
  expect_error(test_where() .. "bad argument #-2 to 'request' (string expected, got table)", function() c:request({url = {}}) end)
  expect_error(test_where() .. "bad argument #-2 to 'request' (string expected, got boolean)", function() c:request({url = base_url, method = true}) end)
  expect_error("Bad argument #1, expected struct http_client got string", function() c.request("x", {url = base_url}) end)
  expect_error("Bad argument #1, expected struct http_client got table", function() c.request({}, {url = base_url}) end)
  expect_error("Failed to parse url ftp://h/: Not an HTTP URL", function() c:request({url = "ftp://h/"}) end)
  expect_error("Failed to parse url http://h/#f: URL fragment not allowed for HTTP URL in this context", function() c:request({url = "http://h/#f"}) end)
  expect_error("Failed to parse url 42: Relative HTTP URL not allowed", function() c:request({url = 42}) end)
  expect_error("Failed to parse url http://h:0/: Invalid port number", function() c:request({url = "http://h:0/\0ignored"}) end)
  -- the password of the URL is masked (Dovecot prints it)
  expect_error("Failed to parse url htp://login:xxxxx@h/: Not an HTTP URL", function() c:request({url = "htp://login:SECRETPASS@h/"}) end)
  expect_error("Failed to parse url http://login:xxxxx@h:0/: Invalid port number", function() c:request({url = "http://login:SECRETPASS@h:0/"}) end)
  -- https URLs are accepted (Dovecot always has SSL client settings)
  c:request({url = "https://example.com/", method = "PROPFIND"})
end

function test_request_method_errors()
  local c = dovecot.http.client({})
  local req = c:request({url = base_url .. "/echo"})
  expect_error("expected 3 arguments, got 2", function() req:add_header("X") end)
  expect_error(test_where() .. "bad argument #1 to 'add_header' (string expected, got nil)", function() req:add_header(nil, "v") end)
  expect_error(test_where() .. "bad argument #2 to 'add_header' (string expected, got table)", function() req:add_header("X", {}) end)
  expect_error('add_header: invalid header name "X:Y"', function() req:add_header("X:Y", "v") end)
  expect_error("add_header: invalid value of header X", function() req:add_header("X", "a\r\nb") end)
  expect_error("add_header: Proxy-Authorization cannot be set", function() req:add_header("proxy-authorization", "x") end)
  expect_error("expected 2 arguments, got 1", function() req:remove_header() end)
  expect_error(test_where() .. "bad argument #1 to 'remove_header' (string expected, got table)", function() req:remove_header({}) end)
  expect_error("expected 2 arguments, got 1", function() req:set_payload() end)
  expect_error(test_where() .. "bad argument #1 to 'set_payload' (string expected, got table)", function() req:set_payload({}) end)
  expect_error("expected 1 arguments, got 2", function() req:submit(1) end)
  expect_error("Bad argument #1, expected struct http_client_request got nil", function() req.submit(nil) end)
  expect_error("Bad argument #1, expected struct http_client_request got table", function() req.submit(c) end)
  expect_error("Bad argument #1, expected struct http_client_request got number", function() req.add_header(1, "a", "b") end)
  req:set_payload("a")
  expect_error("set_payload: the payload was already set", function() req:set_payload("b") end)
  eq(req:submit():status(), 200, "status")
  expect_error("submit: the request was already submitted", function() req:submit() end)
  expect_error("add_header: the request was already submitted", function() req:add_header("X", "y") end)
  expect_error("remove_header: the request was already submitted", function() req:remove_header("X") end)
  expect_error("set_payload: the request was already submitted", function() req:set_payload("y") end)
end

function test_response_errors()
  local resp = get({}, "/ok")
  expect_error("expected 1 arguments, got 2", function() resp:status(1) end)
  expect_error("expected 1 arguments, got 0", function() resp.payload() end)
  expect_error("expected 1 arguments, got 2", function() resp:reason(1) end)
  expect_error("expected 2 arguments, got 1", function() resp:header() end)
  expect_error(test_where() .. "bad argument #1 to 'header' (string expected, got table)", function() resp:header({}) end)
  expect_error("Bad argument #1, expected struct dlua_http_response got table", function() resp.status({}) end)
  expect_error("Bad argument #1, expected struct dlua_http_response got string", function() resp.reason("x") end)
end
