-- os.date, os.time and os.difftime. The clock stands at t0 =
-- 2024-03-05 14:07:09 UTC and the local zone is UTC.

local t0 = 1709647629

function test_time_now()
  eq(os.time(), t0, "os.time()")
  eq(os.time(nil), t0, "os.time(nil)")
end

function test_date_default()
  eq(os.date(), "Tue Mar  5 14:07:09 2024", "os.date()")
  eq(os.date("%Y-%m-%d %H:%M:%S"), "2024-03-05 14:07:09", "now")
  eq(os.date("!%c", 0), "Thu Jan  1 00:00:00 1970", "epoch")
end

function test_date_table()
  local t = os.date("*t", t0)
  eq(t.year, 2024, "year")
  eq(t.month, 3, "month")
  eq(t.day, 5, "day")
  eq(t.hour, 14, "hour")
  eq(t.min, 7, "min")
  eq(t.sec, 9, "sec")
  eq(t.wday, 3, "wday")
  eq(t.yday, 65, "yday")
  eq(t.isdst, false, "isdst")
  eq(os.time(t), t0, "round trip")
end

function test_time_normalises()
  local t = {year = 2023, month = 12, day = 31, hour = 23, min = 59, sec = 61}
  eq(os.time(t), 1704067201, "value")
  eq(t.year, 2024, "year")
  eq(t.month, 1, "month")
  eq(t.day, 1, "day")
  eq(t.min, 0, "min")
  eq(t.sec, 1, "sec")
end

function test_time_missing_field()
  eq(fails(os.time, {year = 2024, month = 1}), "field 'day' missing in date table", "no day")
  eq(fails(os.time, {month = 1, day = 1}), "field 'year' missing in date table", "no year")
end

function test_date_invalid_conversion()
  local ok, e = pcall(function() return os.date("%Ez") end); local ln = callerline()
  eq(e, "os_test.lua:" .. ln .. ": bad argument #1 to 'date' (invalid conversion specifier '%Ez')", "message")
end

function test_difftime()
  eq(os.difftime(t0 + 60, t0), 60, "one minute")
  eq(os.difftime(t0, t0 + 1), -1, "negative")
end

function test_clock_still_there()
  eq(type(os.clock()), "number", "os.clock")
end

function test_getenv_unset_is_nil()
  assert(os.getenv("PUSHLUA_SURELY_UNSET_VARIABLE") == nil, "an unset variable is not nil")
  assert((os.getenv("PUSHLUA_SURELY_UNSET_VARIABLE") or "default") == "default")
  assert(type(os.getenv("PATH")) == "string")
end
