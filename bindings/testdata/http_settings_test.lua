-- dovecot.http.client settings under a Dovecot 2.3-style configuration:
-- 2.3's names as before, Dovecot 2.4's names too, unknown keys ignored
-- with a warning (2.3 drops them silently). Globals as in http_test.lua.

local P = "pushlua(alice@example.com)<t1>: "

local function get(settings, path, method)
  return dovecot.http.client(settings):request({url = base_url .. path, method = method}):submit()
end

function test_24_absolute_timeout()
  -- The script asked for 200 ms; before 2.4's names were read, the key was
  -- dropped and the request waited for lib-http's 60 s default.
  local resp = get({request_absolute_timeout = "200ms", request_max_attempts = 3}, "/hang")
  eq(resp:status(), 9008, "status")
  eq(resp:reason():sub(1, 33), "Absolute request timeout expired ", "reason")
  eq(test_hits("/hang"), 1, "attempts")
end

function test_24_attempts_and_timeout()
  local resp = get({request_timeout = "100 ms", request_max_attempts = 2}, "/hang")
  eq(resp:status(), 9008, "status")
  eq(resp:reason():sub(1, 19), "Request timed out (", "reason")
  eq(test_hits("/hang"), 2, "attempts")
end

function test_24_per_method_overrides()
  -- write_request_* applies to POST and PUT only
  local resp = get({request_timeout = "10s", write_request_timeout = "100ms", write_request_max_attempts = 2}, "/hang", "POST")
  eq(resp:status(), 9008, "status")
  eq(test_hits("/hang"), 2, "POST attempts")
end

function test_24_auto_redirect()
  local resp = get({auto_redirect = false, request_max_redirects = 2}, "/redirect/1")
  eq(resp:status(), 302, "auto_redirect = false returns the redirect")
  resp = get({request_max_redirects = 2}, "/redirect/2")
  eq(resp:status(), 200, "two redirects followed")
end

function test_24_value_errors()
  local E = "Invalid HTTP client setting: "
  expect_error(E .. "request_timeout: Invalid time interval: abc", function() dovecot.http.client({request_timeout = "abc"}) end)
  expect_error(E .. "request_timeout: Time interval '5' is missing units (add e.g. 's' for seconds)",
    function() dovecot.http.client({request_timeout = 5}) end)
  expect_error(E .. "auto_retry: Invalid boolean value: maybe (use yes or no)", function() dovecot.http.client({auto_retry = "maybe"}) end)
  expect_error(E .. "request_max_attempts: string expected", function() dovecot.http.client({request_max_attempts = {}}) end)
  expect_error(E .. "proxy_url is invalid: Relative HTTP URL not allowed", function() dovecot.http.client({proxy_url = "/x"}) end)
end

function test_unknown_keys_warned()
  test_logs()
  dovecot.http.client({request_timeout_msecs = 100, requst_timeout = "1s", foo = 1})
  expect_logs({P .. "Warning: lua: dovecot.http.client: ignoring unknown settings foo, requst_timeout " ..
    "(Dovecot 2.3 ignores them, 2.4 fails with \"<name> is unknown setting\")"})
  dovecot.http.client({request_timeout_msecs = 100, request_timeout = "1s"})
  expect_logs({})
end

function test_debug_setting_logs_requests()
  test_logs()
  get({}, "/status/204")
  expect_logs({})
  get({debug = true}, "/status/204")
  local logs = test_logs()
  eq(#logs, 1, "one line")
  eq(logs[1]:sub(1, #P + 24), P .. "Debug: http: GET http://", "line carries the user and transaction")
end
