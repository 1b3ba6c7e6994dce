-- socket.http against the test server (TEST_URL, TEST_HOST, CLOSED_URL).
-- Tests named test_ours_* cover pushlua's documented differences from
-- LuaSocket; the others also pass with real LuaSocket 3.1.0.

local http = require("socket.http")
local ltn12 = require("ltn12")
local url = require("socket.url")

-- lines(s) splits s at "\n".
local function lines(s)
  local out, start = {}, 1
  while true do
    local i = start
    while i <= #s and string.sub(s, i, i) ~= "\n" do i = i + 1 end
    out[#out + 1] = string.sub(s, start, i - 1)
    if i > #s then return out end
    start = i + 1
  end
end

-- echoed(body) parses the /echo answer: request line, headers (name →
-- value) and body.
local function echoed(body)
  local ls = lines(body)
  local h, i = {}, 2
  while ls[i] ~= "" do
    local line = ls[i]
    local j = 1
    while string.sub(line, j, j) ~= ":" do j = j + 1 end
    h[string.sub(line, 1, j - 1)] = string.sub(line, j + 2)
    i = i + 1
  end
  local rest = {}
  for k = i + 1, #ls do rest[#rest + 1] = ls[k] end
  return ls[1], h, table.concat(rest, "\n")
end

function test_get_string_form()
  local body, code, headers, status = http.request(TEST_URL .. "/echo?a=1")
  eq(code, 200)
  eq(status, "HTTP/1.1 200 OK")
  eq(headers["content-type"], "text/plain")
  local line, h = echoed(body)
  eq(line, "GET /echo?a=1")
  eq(h["Host"], TEST_HOST)
  eq(h["User-Agent"], "LuaSocket 3.0.0")
  eq(h["Te"], "trailers")
  eq(h["Connection"], "close, TE")
  eq(keys(h), "Connection,Host,Te,User-Agent")
end

function test_post_string_form()
  local body, code = http.request(TEST_URL .. "/echo", "a=b&c=%20")
  eq(code, 200)
  local line, h, sent = echoed(body)
  eq(line, "POST /echo")
  eq(h["Content-Type"], "application/x-www-form-urlencoded")
  eq(h["Content-Length"], "9")
  eq(sent, "a=b&c=%20")
  eq(keys(h), "Connection,Content-Length,Content-Type,Host,Te,User-Agent")
end

function test_code_is_a_number_and_status_line()
  local body, code, headers, status = http.request(TEST_URL .. "/status/500")
  eq(body, "status 500"); eq(code, 500); eq(status, "HTTP/1.1 500 Internal Server Error")
  eq(code / 100, 5)
  body, code = http.request(TEST_URL .. "/status/204")
  eq(body, ""); eq(code, 204)
  eq(code / 100 ~= 2, true, "204/100 is a float")
end

function test_table_form_with_source_and_sink()
  local reqbody = "mailbox=INBOX&from=x"
  local t = {}
  local r, code, headers, status = http.request{
    method = "POST", url = TEST_URL .. "/echo",
    source = ltn12.source.string(reqbody),
    sink = ltn12.sink.table(t),
    headers = {["content-type"] = "application/x-www-form-url.escaped", ["content-length"] = tostring(#reqbody)},
  }
  eq(r, 1); eq(code, 200); eq(status, "HTTP/1.1 200 OK")
  local line, h, sent = echoed(table.concat(t))
  eq(line, "POST /echo")
  eq(h["Content-Type"], "application/x-www-form-url.escaped")
  eq(h["Content-Length"], "20")
  eq(sent, reqbody)
end

function test_source_without_length_is_chunked()
  local t = {}
  local r, code = http.request{
    method = "PUT", url = TEST_URL .. "/echo",
    source = ltn12.source.table({"part1", "part2"}),
    sink = ltn12.sink.table(t),
  }
  eq(r, 1); eq(code, 200)
  local line, h, sent = echoed(table.concat(t))
  eq(line, "PUT /echo")
  eq(h["Transfer-Encoding"], "chunked")
  eq(h["Content-Length"], nil)
  eq(sent, "part1part2")
end

function test_user_headers_override_defaults()
  local t = {}
  http.request{
    url = TEST_URL .. "/echo", sink = ltn12.sink.table(t),
    headers = {["User-Agent"] = "mine", ["X-Custom"] = 42, TE = "deflate"},
  }
  local _, h = echoed(table.concat(t))
  eq(h["User-Agent"], "mine")
  eq(h["X-Custom"], "42")
  eq(h["Te"], "deflate")
end

function test_useragent_variable_at_call_time()
  local t = {}
  http.USERAGENT = "Agent/1.0"
  http.request{url = TEST_URL .. "/echo", sink = ltn12.sink.table(t)}
  local _, h = echoed(table.concat(t))
  eq(h["User-Agent"], "Agent/1.0")
end

function test_basic_auth_from_url()
  local body = http.request("http://us%65r:p%40ss@" .. TEST_HOST .. "/echo")
  local _, h = echoed(body)
  -- user stays escaped, password is unescaped: "us%65r:p@ss"
  eq(h["Authorization"], "Basic dXMlNjVyOnBAc3M=")
end

function test_response_headers_lower_case_and_joined()
  local body, code, headers = http.request(TEST_URL .. "/headers")
  eq(body, "ok")
  eq(headers["x-dup"], "a, b")
  eq(headers["x-mixed-case"], "v")
  eq(headers["content-type"], "text/x-test")
  eq(headers["content-length"], "2")
end

function test_sink_gets_blocks()
  local sizes = {}
  local ended = false
  local r, code = http.request{url = TEST_URL .. "/big", sink = function(chunk, err)
    if chunk then sizes[#sizes + 1] = #chunk else ended = true end
    return 1
  end}
  eq(r, 1); eq(code, 200)
  eq(table.concat(sizes, ","), "2048,2048,904")
  eq(ended, true)
end

function test_sink_error_fails_request()
  local r, e = http.request{url = TEST_URL .. "/big", sink = ltn12.sink.error("disk full")}
  eq(r, nil); eq(e, "disk full")
end

function test_source_error_fails_request()
  local r, e = http.request{url = TEST_URL .. "/echo", method = "POST", source = ltn12.source.error("no data")}
  eq(r, nil); eq(e, "no data")
end

function test_step_function()
  local steps = 0
  local t = {}
  local r = http.request{url = TEST_URL .. "/big", sink = ltn12.sink.table(t), step = function(src, snk)
    steps = steps + 1
    return ltn12.pump.step(src, snk)
  end}
  eq(r, 1)
  eq(steps, 4)
  eq(#table.concat(t), 5000)
end

function test_chunked_response()
  local body, code, headers = http.request(TEST_URL .. "/chunked")
  eq(body, "part1,part2"); eq(code, 200)
  eq(headers["transfer-encoding"], "chunked")
  eq(headers["x-trailer"], nil, "trailers are dropped")
end

function test_head_has_no_body()
  local called = false
  local r, code, headers = http.request{url = TEST_URL .. "/big", method = "HEAD", sink = function() called = true; return 1 end}
  eq(r, 1); eq(code, 200); eq(called, false)
end

function test_redirects_followed()
  local body, code, headers = http.request(TEST_URL .. "/redirect/3")
  eq(body, "done GET"); eq(code, 200)
  eq(headers.location, "/redirect/0?code=302")
end

function test_redirect_limit()
  local body, code, headers = http.request(TEST_URL .. "/redirect/6")
  eq(code, 302); eq(body, "moved")
  eq(headers.location, "/redirect/0?code=302")
  local t = {}
  local r, code2 = http.request{url = TEST_URL .. "/redirect/2", maxredirects = 1, sink = ltn12.sink.table(t)}
  eq(code2, 302)
  r, code2 = http.request{url = TEST_URL .. "/redirect/7", maxredirects = false}
  eq(code2, 200)
end

function test_redirect_disabled_and_methods()
  local r, code = http.request{url = TEST_URL .. "/redirect/1", redirect = false}
  eq(code, 302)
  r, code = http.request{url = TEST_URL .. "/redirect/1", method = "POST"}
  eq(code, 302)
  local body, code3 = http.request(TEST_URL .. "/redirect/1", "x=1")
  eq(code3, 302, "no redirect with a body")
  local t = {}
  r, code = http.request{url = TEST_URL .. "/redirect/1?code=307", sink = ltn12.sink.table(t)}
  eq(code, 200)
  t = {}
  r, code = http.request{url = TEST_URL .. "/redirect/1?code=308", sink = ltn12.sink.table(t)}
  eq(code, 308)
end

function test_relative_redirect()
  local body, code, headers = http.request(TEST_URL .. "/relative")
  eq(code, 200)
  local line = echoed(body)
  eq(line, "GET /echo?from=relative")
  eq(headers.location, "echo?from=relative")
end

function test_connection_refused()
  local r, e = http.request(CLOSED_URL .. "/x")
  eq(r, nil); eq(e, "connection refused")
  r, e = http.request{url = CLOSED_URL}
  eq(r, nil); eq(e, "connection refused")
end

function test_unknown_host()
  local r, e = http.request("http://no-such-host.invalid/")
  eq(r, nil)
  eq(e, "host or service not provided, or not known")
end

function test_timeout_variable()
  http.TIMEOUT = 0.1
  local r, e = http.request(TEST_URL .. "/slow")
  eq(r, nil); eq(e, "timeout")
end

function test_invalid_requests()
  local r, e = http.request{url = "http:///x"}
  eq(r, nil); eq(e, "invalid host 'nil'")
  r, e = http.request{url = "http://:80/x"}
  eq(r, nil); eq(e, "invalid host 'nil'")
  fails(http.request, {path = "/x"})
  fails(http.request, "ftp://host/")
  fails(http.request, "")
  fails(http.request)
  fails(http.request, {url = TEST_URL, headers = "x"})
end

function test_explicit_components_override_url()
  local t = {}
  http.request{url = "http://nowhere.invalid/ignored", host = "127.0.0.1", port = tonumber(string.sub(TEST_HOST, 11)),
    path = "/echo", query = "q=1", sink = ltn12.sink.table(t)}
  local line, h = echoed(table.concat(t))
  eq(line, "GET /echo?q=1")
end

function test_connection_dropped()
  local r, e = http.request(TEST_URL .. "/drop")
  eq(r, nil); eq(e, "closed")
end

function test_doc_example2_shape()
  local reqbody = "mailbox=" .. url.escape("INBOX") .. "&recent=1.0&unseen=1.0&messages=1.0"
  local res, code = http.request({method = "POST",
    url = TEST_URL .. "/echo",
    source = ltn12.source.string(reqbody),
    headers = {
      ["content-type"] = "application/x-www-form-url.escaped",
      ["content-length"] = tostring(#reqbody)
    }
  })
  eq(res, 1); eq(code, 200)
end

function test_ours_https_scheme_known()
  -- LuaSocket needs LuaSec for https; pushlua speaks it through Go.
  local r, e = http.request("https://" .. string.sub(CLOSED_URL, 8) .. "/")
  eq(r, nil); eq(e, "connection refused")
end
