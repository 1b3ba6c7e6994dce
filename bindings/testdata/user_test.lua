-- Tests of the mail_user object (spec §6.1). Every test_* function runs in a
-- fresh state; see TestUserLua for the globals: user and user2 (alice),
-- bob, dvtest, nohome, and alice's server METADATA
-- /private/vendor/vendor.dovecot/http-notify = "user=11@3".

function test_metatable()
  local mt = getmetatable(user)
  eq(sorted_keys(mt), "__eq __index __le __lt __name __tostring mailbox metadata_get metadata_list metadata_set metadata_unset plugin_getenv var_expand", "metatable keys")
  eq(mt.__name, "struct mail_user", "__name")
  eq(mt.__index, mt, "__index")
  eq(getmetatable(bob), mt, "one metatable for all users")
end

function test_fields()
  eq(sorted_keys(user), "admin anonymous autocreated dsyncing fuzzy_search gid home item mail_debug nonexistent service session_create_time session_id session_restored uid username", "raw keys")
  eq(type(user.item), "userdata", "item")
  eq(sorted_keys(getmetatable(user.item)), "__gc", "item metatable keys")
  eq(user.username, "alice@example.com", "username")
  eq(user.home, "/var/mail/example.com/alice", "home")
  eq(user.service, "lmtp", "service")
  eq(user.session_id, "/0iFOdh1DGuAZQAAg+zDdQ", "session_id")
  eq(math.type and math.type(user.uid) or type(user.uid), math.type and "float" or "number", "type(uid)")
  eq(user.uid, 999, "uid")
  eq(user.gid, 995, "gid")
  eq(user.session_create_time, 1795978712, "session_create_time")
  eq(user.mail_debug, true, "mail_debug (env.Debug)")
  for _, f in ipairs({"nonexistent", "anonymous", "autocreated", "fuzzy_search", "dsyncing", "admin", "session_restored"}) do
    eq(user[f], false, f)
  end
end

function test_no_home()
  eq(nohome.home, nil, "home")
  eq(rawget(nohome, "home"), nil, "rawget home")
  eq(nohome:var_expand("[%h]"), "[]", "%h without home")
end

function test_tostring()
  eq(tostring(user), "alice@example.com", "tostring")
  eq(tostring(bob), "bob@example.com", "tostring bob")
  -- the methods use the user the object was made for, not the table fields
  user.username = "changed"
  eq(tostring(user), "alice@example.com", "tostring after assignment")
  expect_error("expected 1 arguments, got 2", getmetatable(user).__tostring, user, 1)
  expect_error("Bad argument #1, expected struct mail_user got table", getmetatable(user).__tostring, {})
end

function test_compare()
  eq(user == user2, true, "same user, two objects")
  eq(user ~= bob, true, "different users")
  eq(user < bob, true, "alice < bob")
  eq(bob < user, false, "bob < alice")
  eq(user < user2, false, "alice < alice")
  eq(user <= user2, true, "alice <= alice")
  eq(user <= bob, true, "alice <= bob")
  eq(bob <= user, false, "bob <= alice")
  eq(bob > user, true, "bob > alice")
  eq(user >= user2, true, "alice >= alice")
  local mt = getmetatable(user)
  expect_error("expected 2 arguments, got 1", mt.__eq, user)
  expect_error("expected 2 arguments, got 1", mt.__lt, user)
  expect_error("expected 2 arguments, got 3", mt.__le, user, bob, user)
  -- compared as strings: a table without __tostring is compared by its
  -- "table: 0x..." text, not a crash
  eq(mt.__eq(user, "alice@example.com"), true, "__eq with the username")
  eq(mt.__lt(user, {}), true, "__lt with a plain table")
end

function test_plugin_getenv()
  eq(user:plugin_getenv("custom_setting"), "hello", "custom_setting")
  eq(user:plugin_getenv("push_notification_driver"), "lua:file=/etc/dovecot/push.lua", "driver")
  eq(user:plugin_getenv("not_configured"), nil, "unset")
  eq(select("#", user:plugin_getenv("not_configured")), 1, "one result")
  expect_error("expected 2 arguments, got 1", user.plugin_getenv, user)
  expect_error("expected 2 arguments, got 3", user.plugin_getenv, user, "a", "b")
  expect_error("Bad argument #1, expected struct mail_user got string", user.plugin_getenv, "x", "custom_setting")
  expect_error_at("bad argument #1 to 'plugin_getenv' (string expected, got nil)", function() local _ = user:plugin_getenv(nil) end)
end

function test_var_expand()
  -- the spec's example (§6.1), and the trace's
  eq(dvtest:var_expand("%u|%n|%d|%h"), "dvtest|dvtest||/home/dvtest", "spec example")
  eq(user:var_expand("u=%u n=%n d=%d s=%s h=%h"), "u=alice@example.com n=alice d=example.com s=lmtp h=/var/mail/example.com/alice", "trace example")
  eq(user:var_expand("%{user}|%{username}|%{domain}|%{home}|%{service}|%{session}"), "alice@example.com|alice|example.com|/var/mail/example.com/alice|lmtp|/0iFOdh1DGuAZQAAg+zDdQ", "long forms")
  eq(user:var_expand("%i:%{uid}:%{gid}"), "999:999:995", "uid and gid")
  eq(user:var_expand("100%% %%u"), "100% %u", "%%")
  eq(bob:var_expand("%Uu %Ln %U{domain}"), "BOB@EXAMPLE.COM bob EXAMPLE.COM", "%U and %L")
  eq(user:var_expand("no variables"), "no variables", "plain")
  eq(user:var_expand(""), "", "empty")
  eq(user:var_expand(42), "42", "a number is a string")
end

function test_var_expand_unknown()
  -- Dovecot 2.3 does not fail on an unknown variable: it expands it to
  -- UNSUPPORTED_VARIABLE_<name> (its Lua binding only raises when
  -- var_expand returns < 0).
  eq(user:var_expand("%x"), "UNSUPPORTED_VARIABLE_x", "%x")
  eq(user:var_expand("a%{nope}b"), "aUNSUPPORTED_VARIABLE_nopeb", "%{nope}")
end

function test_var_expand_errors()
  expect_error("var_expand(%{md5:%u}) failed: %{md5} is not supported by pushlua", user.var_expand, user, "%{md5:%u}")
  expect_error("var_expand(x%{if;%u;eq;a;b;c}) failed: %{if} is not supported by pushlua", user.var_expand, user, "x%{if;%u;eq;a;b;c}")
  expect_error("expected 2 arguments, got 1", user.var_expand, user)
  expect_error("expected 2 arguments, got 3", user.var_expand, user, "%u", "%u")
  expect_error("Bad argument #1, expected struct mail_user got nil", user.var_expand, nil, "%u")
  expect_error_at("bad argument #1 to 'var_expand' (string expected, got table)", function() local _ = user:var_expand({}) end)
end

function test_mailbox()
  local box = user:mailbox("INBOX")
  eq(getmetatable(box).__name, "struct mailbox", "metatable")
  eq(box.vname, "INBOX", "vname")
  eq(box.name, "INBOX", "name")
  eq(user:mailbox("inbox").vname, "INBOX", "INBOX is case-insensitive")
  eq(user:mailbox("Inbox/Sub").vname, "INBOX/Sub", "INBOX/ prefix")
  eq(user:mailbox("Projects/Übersicht").vname, "Projects/Übersicht", "UTF-8 vname")
  -- allocating never fails, even for a mailbox that does not exist
  eq(user:mailbox("Nope", dovecot.storage.MAILBOX_FLAG_READONLY).vname, "Nope", "with flags")
  expect_error("expected 2 to 3 arguments, got 1", user.mailbox, user)
  expect_error("expected 2 to 3 arguments, got 4", user.mailbox, user, "a", 1, 2)
  expect_error("Bad argument #1, expected struct mail_user got number", user.mailbox, 1, "INBOX")
  expect_error_at("bad argument #1 to 'mailbox' (string expected, got nil)", function() local _ = user:mailbox(nil) end)
  expect_error_at("bad argument #2 to 'mailbox' (number expected, got string)", function() local _ = user:mailbox("INBOX", "x") end)
  expect_error_at("bad argument #2 to 'mailbox' (number has no integer representation)", function() local _ = user:mailbox("INBOX", 1.5) end)
  expect_error_at("bad argument #1 to 'mailbox' (string expected, got struct mail_user)", function() local _ = user:mailbox(user) end)
end

function test_metadata_get()
  -- the value doveadm set, at its rewritten key (FINDINGS §3)
  eq(user:metadata_get("/private/vendor/vendor.dovecot/http-notify"), "user=11@3", "http-notify")
  eq(bob:metadata_get("/private/vendor/vendor.dovecot/http-notify"), nil, "another user")
  eq(user:metadata_get("/private/unset"), nil, "unset")
  eq(select("#", user:metadata_get("/private/unset")), 1, "one result for one key")
  user:metadata_set("/shared/skey", "sval")
  local a, b, c = user:metadata_get("/private/vendor/vendor.dovecot/http-notify", "/private/unset", "/shared/skey")
  eq(a, "user=11@3", "first")
  eq(b, nil, "second")
  eq(c, "sval", "third")
  eq(select("#", user:metadata_get("/private/a", "/private/b", "/private/c")), 3, "one result per key")
  -- server attributes Dovecot keeps itself are read-only and unset
  eq(user:metadata_get("/shared/admin"), nil, "/shared/admin")
end

function test_metadata_get_errors()
  expect_error("expecting at least 1 parameter", user.metadata_get, user)
  expect_error("expecting at least 1 parameter", user.metadata_get)
  expect_error("Bad argument #1, expected struct mail_user got string", user.metadata_get, "/private/x", "/private/y")
  expect_error("expected string at #2", user.metadata_get, user, nil)
  expect_error("expected string at #3", user.metadata_get, user, "/private/x", {})
  expect_error("Invalid key prefix, must be /private/ or /shared/", user.metadata_get, user, "/public/x")
  expect_error("Invalid key prefix, must be /private/ or /shared/", user.metadata_get, user, "private/x")
  expect_error("Invalid key prefix, must be /private/ or /shared/", user.metadata_get, user, 42)
end

function test_metadata_set()
  user:metadata_set("/private/ukey", "uval")
  eq(user:metadata_get("/private/ukey"), "uval", "get after set")
  user:metadata_set("/private/ukey", "")
  eq(user:metadata_get("/private/ukey"), "", "empty value is a value")
  user:metadata_set("/private/num", 42)
  eq(user:metadata_get("/private/num"), "42", "a number is a string")
  -- as in Dovecot (lua_tolstring gives NULL), a nil value unsets
  user:metadata_set("/private/ukey", nil)
  eq(user:metadata_get("/private/ukey"), nil, "nil value unsets")
  -- the keys are rewritten: INBOX's own attributes show where they went
  user:metadata_set("/private/ukey", "uval")
  user:metadata_set("/shared/skey", "sval")
  local inbox = user:mailbox("INBOX")
  eq(inbox:metadata_get("/private/vendor/vendor.dovecot/pvt/server/ukey"), "uval", "rewritten private key")
  eq(inbox:metadata_get("/shared/vendor/vendor.dovecot/pvt/server/skey"), "sval", "rewritten shared key")
  eq(inbox:metadata_get("/private/ukey"), nil, "not at the user-facing key")
  local l = inbox:metadata_list("/private/vendor/")
  eq(dump(l), "{/private/vendor/vendor.dovecot/pvt/server/num=42, /private/vendor/vendor.dovecot/pvt/server/ukey=uval, /private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify=user=11@3}", "INBOX list")
  -- the other user's INBOX is not touched
  eq(dump(bob:mailbox("INBOX"):metadata_list("/private/vendor/")), "{}", "bob's INBOX")
end

function test_metadata_set_errors()
  expect_error("expected 3 arguments, got 2", user.metadata_set, user, "/private/x")
  expect_error("expected 3 arguments, got 4", user.metadata_set, user, "/private/x", "v", "w")
  expect_error("Bad argument #1, expected struct mail_user got boolean", user.metadata_set, true, "/private/x", "v")
  expect_error_at("bad argument #1 to 'metadata_set' (string expected, got nil)", function() local _ = user:metadata_set(nil, "v") end)
  expect_error("Invalid key prefix, must be /private/ or /shared/", user.metadata_set, user, "/x", "v")
  expect_error("Cannot get attribute: Attribute string value has NULs", user.metadata_set, user, "/private/x", "a\0b")
  expect_error("Cannot get attribute: The /shared/vendor/vendor.dovecot/pvt/server/admin attribute cannot be changed", user.metadata_set, user, "/shared/admin", "me")
  eq(user:metadata_get("/private/x"), nil, "nothing was set")
end

function test_metadata_unset()
  user:metadata_set("/private/ukey", "uval")
  user:metadata_unset("/private/ukey")
  eq(user:metadata_get("/private/ukey"), nil, "unset")
  user:metadata_unset("/private/never-set")
  user:metadata_unset("/private/vendor/vendor.dovecot/http-notify")
  eq(user:metadata_get("/private/vendor/vendor.dovecot/http-notify"), nil, "seeded key unset")
  expect_error("expected 2 arguments, got 1", user.metadata_unset, user)
  expect_error("expected 2 arguments, got 3", user.metadata_unset, user, "/private/x", nil)
  expect_error("Bad argument #1, expected struct mail_user got nil", user.metadata_unset, nil, "/private/x")
  expect_error_at("bad argument #1 to 'metadata_unset' (string expected, got table)", function() local _ = user:metadata_unset({}) end)
  expect_error("Invalid key prefix, must be /private/ or /shared/", user.metadata_unset, user, "x")
  expect_error("Cannot get attribute: The /shared/vendor/vendor.dovecot/pvt/server/comment attribute cannot be changed", user.metadata_unset, user, "/shared/comment")
end

function test_metadata_list()
  user:metadata_set("/private/ukey", "uval")
  user:metadata_set("/private/vendor/other", "o")
  user:metadata_set("/shared/skey", "sval")
  -- the trace's shape: keys in their user-facing form
  eq(dump(user:metadata_list("/private/")), "{/private/ukey=uval, /private/vendor/other=o, /private/vendor/vendor.dovecot/http-notify=user=11@3}", "/private/")
  eq(dump(user:metadata_list("/private/vendor/")), "{/private/vendor/other=o, /private/vendor/vendor.dovecot/http-notify=user=11@3}", "/private/vendor/")
  eq(dump(user:metadata_list("/private/u")), "{/private/ukey=uval}", "a string prefix")
  eq(dump(user:metadata_list("/private/nothing")), "{}", "nothing under the prefix")
  -- several prefixes: one table
  eq(dump(user:metadata_list("/private/ukey", "/shared/skey", "/private/ukey")), "{/private/ukey=uval, /shared/skey=sval}", "merged")
  -- /shared/ also lists Dovecot's read-only server attributes, unset ("")
  eq(dump(user:metadata_list("/shared/")), "{/shared/admin=, /shared/comment=, /shared/skey=sval}", "/shared/")
  eq(dump(bob:metadata_list("/private/")), "{}", "bob has none")
end

function test_metadata_list_errors()
  expect_error("expecting at least 1 parameter", user.metadata_list, user)
  expect_error("Bad argument #1, expected struct mail_user got table", user.metadata_list, {}, "/private/")
  expect_error("expected string at #2", user.metadata_list, user, false)
  expect_error("expected string at #3", user.metadata_list, user, "/private/", nil)
  expect_error("Invalid key prefix, must be /private/ or /shared/", user.metadata_list, user, "/private/", "/other/")
end
