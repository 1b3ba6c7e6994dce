-- The Lua 5.3 additions to math.

function test_type()
  eq(math.type(42), "integer", "42")
  eq(math.type(4.2), "float", "4.2")
  eq(math.type("42"), nil, "a string")
  eq(fails(math.type), "bad argument #1 to 'type' (value expected)", "no argument")
end

function test_tointeger()
  eq(math.tointeger(5.0), 5, "5.0")
  eq(math.tointeger(5.5), nil, "5.5")
  eq(math.tointeger("5"), 5, "\"5\"")
  eq(math.tointeger(true), nil, "true")
end

function test_integer_bounds()
  eq(math.maxinteger, 2^53 - 1, "maxinteger")
  eq(math.mininteger, -(2^53 - 1), "mininteger")
  eq(math.type(math.mininteger), "integer", "type of mininteger")
  local smallest = math.maxinteger
  for _, v in ipairs{5, 3, 9} do
    if v < smallest then smallest = v end
  end
  eq(smallest, 3, "a minimum search starting at maxinteger")
end

function test_ult()
  eq(math.ult(1, 2), true, "1 < 2")
  eq(math.ult(0, -1), true, "-1 is the largest unsigned")
  eq(fails(math.ult, 0.5, 1), "bad argument #1 to 'ult' (number has no integer representation)", "0.5")
end

function test_atan_two_arguments()
  eq(math.atan(-1, -1), -3 * math.pi / 4, "atan(-1, -1)")
  eq(math.atan(1), math.pi / 4, "atan(1)")
end

function test_huge_is_infinity()
  assert(math.huge == 1/0, "math.huge is not infinity")
  assert(-math.huge < -1e308)
end
