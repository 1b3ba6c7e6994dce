-- dovecot.http under a Dovecot 2.4-style configuration (a push_notification
-- NAME { } block): 2.4's setting names only, an unknown key fails as in
-- 2.4, set_payload's optional sync argument. Globals as in http_test.lua.

local function get(settings, path)
  return dovecot.http.client(settings):request({url = base_url .. path}):submit()
end

function test_unknown_keys_fail()
  local E = "Invalid HTTP client setting: "
  expect_error(E .. "foo is unknown setting", function() dovecot.http.client({foo = 1}) end)
  -- 2.3's names are unknown to 2.4
  expect_error(E .. "request_timeout_msecs is unknown setting", function() dovecot.http.client({request_timeout_msecs = 100}) end)
  expect_error(E .. "debug is unknown setting", function() dovecot.http.client({debug = true}) end)
  -- event_parent and the ssl client settings are known
  dovecot.http.client({event_parent = dovecot.event(), ssl_client_require_valid_cert = "no", ssl_client_ca_dir = "/etc/ssl/certs"})
end

function test_names()
  local resp = get({request_absolute_timeout = "200ms", request_max_attempts = 3}, "/hang")
  eq(resp:status(), 9008, "status")
  eq(test_hits("/hang"), 1, "attempts")
  eq(get({user_agent = "agent/2.4"}, "/echo"):header("X-Echo-User-Agent"), "agent/2.4", "user_agent")
end

function test_set_payload_sync()
  local c = dovecot.http.client({})
  local req = c:request({url = base_url .. "/echo", method = "POST"})
  req:set_payload("data")
  eq(req:submit():header("X-Echo-Expect"), "", "no Expect without sync")
  req = c:request({url = base_url .. "/echo", method = "POST"})
  req:set_payload("data", true)
  eq(req:submit():header("X-Echo-Expect"), "100-continue", "Expect with sync")
  expect_error("expected 2 to 3 arguments, got 4", function()
    c:request({url = base_url .. "/echo"}):set_payload("a", true, 1)
  end)
end
