-- Tests of the mailbox object (spec §6.2). Every test_* function runs in a
-- fresh state; see TestMailboxLua for the globals (user = alice, bob) and
-- the store: alice has INBOX (every status field set), "Projects/Archiv-Ä"
-- and "Empty" (all zero); bob has only the implicit empty INBOX.

local S = dovecot.storage

local ALL = S.STATUS_MESSAGES + S.STATUS_RECENT + S.STATUS_UIDNEXT + S.STATUS_UIDVALIDITY +
  S.STATUS_UNSEEN + S.STATUS_FIRST_UNSEEN_SEQ + S.STATUS_KEYWORDS + S.STATUS_HIGHESTMODSEQ +
  S.STATUS_PERMANENT_FLAGS + S.STATUS_FIRST_RECENT_UID + S.STATUS_HIGHESTPVTMODSEQ

local STATUS_KEYS = "allow_new_keywords first_recent_uid first_unseen_seq flags have_guids have_only_guid128 have_save_guids highest_modseq highest_pvt_modseq mailbox messages no_modseq_tracking nonpermanent_modseqs permanent_flags permanent_keywords recent uidnext uidvalidity unseen"

function test_metatable()
  local mt = getmetatable(user:mailbox("INBOX"))
  eq(sorted_keys(mt), "__eq __index __le __lt __name __tostring close free metadata_get metadata_list metadata_set metadata_unset open status sync", "metatable keys")
  eq(mt.__name, "struct mailbox", "__name")
  eq(mt.__index, mt, "__index")
  eq(getmetatable(bob:mailbox("Other")), mt, "one metatable for all mailboxes")
end

function test_fields()
  local box = user:mailbox("Projects/Archiv-Ä")
  eq(sorted_keys(box), "item name vname", "raw keys")
  eq(type(box.item), "userdata", "item")
  eq(sorted_keys(getmetatable(box.item)), "__gc", "item metatable keys")
  eq(box.vname, "Projects/Archiv-Ä", "vname")
  -- pushlua has no storage layout: name is the vname
  eq(box.name, "Projects/Archiv-Ä", "name")
end

function test_tostring()
  eq(tostring(user:mailbox("INBOX")), "INBOX", "INBOX")
  eq(tostring(user:mailbox("inbox")), "INBOX", "inbox")
  eq(tostring(user:mailbox("Projects/Archiv-Ä")), "Projects/Archiv-Ä", "UTF-8")
  local mt = getmetatable(user:mailbox("INBOX"))
  expect_error("expected 1 arguments, got 0", mt.__tostring)
  expect_error("Bad argument #1, expected struct mailbox got table", mt.__tostring, user)
end

function test_compare()
  local inbox = user:mailbox("INBOX")
  eq(inbox == user:mailbox("inbox"), true, "same vname")
  eq(inbox == inbox, true, "itself")
  eq(inbox ~= user:mailbox("Empty"), true, "other vname")
  eq(inbox ~= bob:mailbox("INBOX"), true, "other user")
  eq(inbox == {}, false, "a plain table")
  local mt = getmetatable(inbox)
  eq(mt.__eq(inbox, user), false, "__eq with a user")
  eq(user:mailbox("Empty") < inbox, true, "Empty < INBOX")
  eq(inbox < user:mailbox("Empty"), false, "INBOX < Empty")
  eq(inbox < user:mailbox("INBOX"), false, "INBOX < INBOX")
  eq(inbox <= user:mailbox("INBOX"), true, "INBOX <= INBOX")
  eq(inbox >= user:mailbox("Empty"), true, "INBOX >= Empty")
  expect_error("expected 2 arguments, got 1", mt.__eq, inbox)
  expect_error("expected 2 arguments, got 1", mt.__lt, inbox)
  expect_error("expected 2 arguments, got 1", mt.__le, inbox)
end

function test_open_close_free()
  local inbox = user:mailbox("INBOX")
  eq(select("#", inbox:open()), 0, "open returns nothing")
  user:mailbox("Projects/Archiv-Ä"):open()
  user:mailbox("Empty"):open()
  -- INBOX always exists, also for a user the store has not seen
  bob:mailbox("INBOX"):open()
  eq(select("#", inbox:close()), 0, "close returns nothing")
  eq(select("#", inbox:free()), 0, "free returns nothing")
  inbox:free()
  -- still usable after free (Dovecot would crash)
  eq(inbox:status(S.STATUS_MESSAGES).messages, 3, "status after free")
  expect_error("mailbox_open(Nope) failed: Mailbox doesn't exist: Nope", inbox.open, user:mailbox("Nope"))
  expect_error("mailbox_open(Projects/Archiv-Ä) failed: Mailbox doesn't exist: Projects/Archiv-Ä", inbox.open, bob:mailbox("Projects/Archiv-Ä"))
  expect_error("expected 1 arguments, got 2", inbox.open, inbox, 1)
  expect_error("expected 1 arguments, got 0", inbox.close)
  expect_error("expected 1 arguments, got 2", inbox.free, inbox, inbox)
  expect_error("Bad argument #1, expected struct mailbox got table", inbox.open, {})
  expect_error("Bad argument #1, expected struct mailbox got string", inbox.close, "INBOX")
  expect_error("Bad argument #1, expected struct mailbox got number", inbox.free, 1)
end

function test_sync()
  local inbox = user:mailbox("INBOX")
  eq(select("#", inbox:sync()), 0, "sync returns nothing")
  inbox:sync(S.MAILBOX_SYNC_FLAG_FULL_READ + S.MAILBOX_SYNC_FLAG_FAST)
  expect_error("mailbox_sync(Projects/Gelöscht) failed: Mailbox doesn't exist: Projects/Gelöscht", inbox.sync, user:mailbox("Projects/Gelöscht"))
  expect_error("mailbox_sync(Nope) failed: Mailbox doesn't exist: Nope", inbox.sync, user:mailbox("Nope"), 0)
  expect_error("expected 1 to 2 arguments, got 0", inbox.sync)
  expect_error("expected 1 to 2 arguments, got 3", inbox.sync, inbox, 1, 2)
  expect_error("Bad argument #1, expected struct mailbox got nil", inbox.sync, nil)
  expect_error_at("bad argument #1 to 'sync' (number expected, got string)", function() inbox:sync("fast") end)
  expect_error_at("bad argument #1 to 'sync' (number has no integer representation)", function() inbox:sync(0.5) end)
end

function test_status_all()
  local st = user:mailbox("INBOX"):status(ALL)
  eq(sorted_keys(st), "allow_new_keywords first_recent_uid first_unseen_seq flags have_guids have_only_guid128 have_save_guids highest_modseq highest_pvt_modseq keywords mailbox messages no_modseq_tracking nonpermanent_modseqs permanent_flags permanent_keywords recent uidnext uidvalidity unseen", "keys")
  eq(dump(st), "{allow_new_keywords=true, first_recent_uid=3, first_unseen_seq=2, flags=31, have_guids=true, have_only_guid128=false, have_save_guids=true, highest_modseq=14, highest_pvt_modseq=5, keywords={$Label1,$Foo,$A,$B}, mailbox=INBOX, messages=3, no_modseq_tracking=true, nonpermanent_modseqs=true, permanent_flags=31, permanent_keywords=true, recent=2, uidnext=4, uidvalidity=1795977679, unseen=1}", "status")
  for _, k in ipairs({"messages", "recent", "unseen", "uidvalidity", "uidnext", "first_unseen_seq", "first_recent_uid", "highest_modseq", "highest_pvt_modseq", "permanent_flags", "flags"}) do
    eq(type(st[k]), "number", k)
  end
  for _, k in ipairs({"permanent_keywords", "allow_new_keywords", "nonpermanent_modseqs", "no_modseq_tracking", "have_guids", "have_save_guids", "have_only_guid128"}) do
    eq(type(st[k]), "boolean", k)
  end
  -- items given one by one are OR-ed
  eq(dump(user:mailbox("INBOX"):status(S.STATUS_MESSAGES, S.STATUS_RECENT, S.STATUS_UIDNEXT, S.STATUS_UIDVALIDITY,
    S.STATUS_UNSEEN, S.STATUS_FIRST_UNSEEN_SEQ, S.STATUS_KEYWORDS, S.STATUS_HIGHESTMODSEQ,
    S.STATUS_PERMANENT_FLAGS, S.STATUS_FIRST_RECENT_UID, S.STATUS_HIGHESTPVTMODSEQ)), dump(st), "OR-ed items")
end

function test_status_subset()
  -- The trace's "basic" request (items 31): every key is still there;
  -- messages, uidvalidity, uidnext and first_recent_uid are always
  -- filled, the rest only with their bit.
  local st = user:mailbox("INBOX"):status(S.STATUS_MESSAGES, S.STATUS_RECENT, S.STATUS_UIDNEXT, S.STATUS_UIDVALIDITY, S.STATUS_UNSEEN)
  eq(sorted_keys(st), STATUS_KEYS, "keys, no keywords")
  eq(dump(st), "{allow_new_keywords=false, first_recent_uid=3, first_unseen_seq=0, flags=0, have_guids=true, have_only_guid128=false, have_save_guids=true, highest_modseq=0, highest_pvt_modseq=0, mailbox=INBOX, messages=3, no_modseq_tracking=false, nonpermanent_modseqs=false, permanent_flags=0, permanent_keywords=false, recent=2, uidnext=4, uidvalidity=1795977679, unseen=1}", "status 31")

  st = user:mailbox("INBOX"):status(S.STATUS_UIDVALIDITY)
  eq(dump(st), "{allow_new_keywords=false, first_recent_uid=3, first_unseen_seq=0, flags=0, have_guids=true, have_only_guid128=false, have_save_guids=true, highest_modseq=0, highest_pvt_modseq=0, mailbox=INBOX, messages=3, no_modseq_tracking=false, nonpermanent_modseqs=false, permanent_flags=0, permanent_keywords=false, recent=0, uidnext=4, uidvalidity=1795977679, unseen=0}", "uidvalidity only")

  st = user:mailbox("INBOX"):status(S.STATUS_HIGHESTMODSEQ + S.STATUS_PERMANENT_FLAGS)
  eq(dump(st), "{allow_new_keywords=true, first_recent_uid=3, first_unseen_seq=0, flags=31, have_guids=true, have_only_guid128=false, have_save_guids=true, highest_modseq=14, highest_pvt_modseq=0, mailbox=INBOX, messages=3, no_modseq_tracking=true, nonpermanent_modseqs=true, permanent_flags=31, permanent_keywords=true, recent=0, uidnext=4, uidvalidity=1795977679, unseen=0}", "modseq and permanent flags")

  st = user:mailbox("INBOX"):status(S.STATUS_KEYWORDS)
  eq(dump(st.keywords), "{1=$Label1, 2=$Foo, 3=$A, 4=$B}", "keywords")
  st = user:mailbox("Projects/Archiv-Ä"):status(S.STATUS_KEYWORDS)
  eq(type(st.keywords), "table", "keywords of a box without any")
  eq(#st.keywords, 0, "no keywords")
  eq(st.mailbox, "Projects/Archiv-Ä", "mailbox")
  eq(st.messages, 7, "messages")
end

function test_status_special()
  -- Dovecot never returns highest_modseq 0 when asked for it
  eq(user:mailbox("Empty"):status(S.STATUS_HIGHESTMODSEQ).highest_modseq, 1, "highest_modseq of an all-zero record")
  eq(bob:mailbox("INBOX"):status(S.STATUS_HIGHESTMODSEQ, S.STATUS_MESSAGES).highest_modseq, 1, "bob's implicit INBOX")
  -- a box allocated read-only has no permanent flags or keywords
  local st = user:mailbox("INBOX", S.MAILBOX_FLAG_READONLY):status(S.STATUS_PERMANENT_FLAGS)
  eq(st.permanent_flags, 0, "read-only permanent_flags")
  eq(st.permanent_keywords, false, "read-only permanent_keywords")
  eq(st.allow_new_keywords, false, "read-only allow_new_keywords")
  eq(st.flags, 31, "read-only flags")
  -- no items: nothing is looked up (not even whether the box exists),
  -- only the storage's have_* flags are set
  st = user:mailbox("Nope"):status(0)
  eq(dump(st), "{allow_new_keywords=false, first_recent_uid=0, first_unseen_seq=0, flags=0, have_guids=true, have_only_guid128=false, have_save_guids=true, highest_modseq=0, highest_pvt_modseq=0, mailbox=Nope, messages=0, no_modseq_tracking=false, nonpermanent_modseqs=false, permanent_flags=0, permanent_keywords=false, recent=0, uidnext=0, uidvalidity=0, unseen=0}", "status(0)")
end

function test_status_errors()
  local inbox = user:mailbox("INBOX")
  expect_error("expecting at least 1 parameter", inbox.status, inbox)
  expect_error("Bad argument #1, expected struct mailbox got no value", inbox.status)
  expect_error("Bad argument #1, expected struct mailbox got table", inbox.status, {}, 1)
  expect_error("mailbox_get_status(Nope, 31) failed: Mailbox doesn't exist: Nope", inbox.status, user:mailbox("Nope"), 31)
  expect_error("mailbox_get_status(Nope, 3) failed: Mailbox doesn't exist: Nope", inbox.status, user:mailbox("Nope"), 1, 2, 1)
  -- the items are printed as an unsigned int
  expect_error("mailbox_get_status(Nope, 4294967295) failed: Mailbox doesn't exist: Nope", inbox.status, user:mailbox("Nope"), -1)
  expect_error("mailbox_get_status(Projects/Archiv-Ä, 31) failed: Mailbox doesn't exist: Projects/Archiv-Ä", inbox.status, bob:mailbox("Projects/Archiv-Ä"), 31)
  expect_error_at("bad argument #1 to 'status' (number expected, got string)", function() inbox:status("messages") end)
  expect_error_at("bad argument #2 to 'status' (number has no integer representation)", function() inbox:status(1, 2.5) end)
end

function test_metadata()
  local box = user:mailbox("Projects/Archiv-Ä")
  -- Dovecot's built-in attributes are listed, unset ("")
  eq(dump(box:metadata_list("/private/")), "{/private/comment=, /private/specialuse=}", "fresh box")
  eq(box:metadata_get("/private/comment"), nil, "comment unset")
  eq(box:metadata_get("/private/specialuse"), nil, "specialuse unset")
  box:metadata_set("/private/x", "1")
  box:metadata_set("/shared/y", "2")
  box:metadata_set("/private/comment", "my box")
  eq(select("#", box:metadata_set("/private/z", 3)), 0, "set returns nothing")
  local a, b, c, d = box:metadata_get("/private/x", "/shared/y", "/private/comment", "/private/none")
  eq(a, "1", "x")
  eq(b, "2", "y")
  eq(c, "my box", "comment")
  eq(d, nil, "none")
  eq(select("#", box:metadata_get("/private/none", "/private/none")), 2, "one result per key")
  eq(box:metadata_get("/private/z"), "3", "a number is a string")
  eq(dump(box:metadata_list("/private/")), "{/private/comment=my box, /private/specialuse=, /private/x=1, /private/z=3}", "private")
  eq(dump(box:metadata_list("/private/", "/shared/")), "{/private/comment=my box, /private/specialuse=, /private/x=1, /private/z=3, /shared/comment=, /shared/y=2}", "merged")
  eq(dump(box:metadata_list("/private/x")), "{/private/x=1}", "one key")
  eq(dump(box:metadata_list("/private/comment")), "{/private/comment=my box}", "the built-in key itself")
  -- a built-in attribute is under a prefix at "/" boundaries only
  eq(dump(box:metadata_list("/private/c")), "{/private/comment=my box}", "string prefix of a stored key")
  -- other mailboxes, other users: their own attributes
  eq(user:mailbox("Empty"):metadata_get("/private/x"), nil, "another box")
  eq(bob:mailbox("Projects/Archiv-Ä"):metadata_get("/private/x"), nil, "another user")
  -- unset, and a nil value unsets too
  box:metadata_unset("/private/x")
  box:metadata_set("/shared/y", nil)
  box:metadata_unset("/private/comment")
  box:metadata_unset("/private/never")
  eq(dump(box:metadata_list("/private/", "/shared/")), "{/private/comment=, /private/specialuse=, /private/z=3, /shared/comment=}", "after unset")
  box:metadata_set("/private/empty", "")
  eq(box:metadata_get("/private/empty"), "", "empty value")
  eq(box:metadata_get("/private/"), nil, "empty key never exists")
end

function test_metadata_inbox()
  -- INBOX holds the server METADATA that user:metadata_set writes, under
  -- the rewritten key, next to its own attributes
  user:metadata_set("/private/vendor/vendor.dovecot/http-notify", "user=11@3")
  local inbox = user:mailbox("INBOX")
  inbox:metadata_set("/private/own", "o")
  eq(dump(inbox:metadata_list("/private/")), "{/private/comment=, /private/own=o, /private/specialuse=, /private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify=user=11@3}", "INBOX private")
  eq(inbox:metadata_get("/private/vendor/vendor.dovecot/pvt/server/vendor/vendor.dovecot/http-notify"), "user=11@3", "server key")
  -- setting the server key on INBOX is what user:metadata_set does
  inbox:metadata_set("/private/vendor/vendor.dovecot/pvt/server/direct", "d")
  eq(user:metadata_get("/private/direct"), "d", "seen by the user")
  -- INBOX also lists Dovecot's read-only server attributes
  eq(dump(inbox:metadata_list("/shared/")), "{/shared/comment=, /shared/vendor/vendor.dovecot/pvt/server/admin=, /shared/vendor/vendor.dovecot/pvt/server/comment=}", "INBOX shared")
  eq(dump(user:mailbox("Empty"):metadata_list("/shared/")), "{/shared/comment=}", "other boxes do not")
end

function test_metadata_errors()
  local box = user:mailbox("INBOX")
  expect_error("expecting at least 1 parameter", box.metadata_get, box)
  expect_error("expecting at least 1 parameter", box.metadata_get)
  expect_error("Bad argument #1, expected struct mailbox got string", box.metadata_get, "INBOX", "/private/x")
  expect_error("expected string at #2", box.metadata_get, box, nil)
  expect_error("expected string at #3", box.metadata_get, box, "/private/x", true)
  expect_error("Invalid key prefix, must be /private/ or /shared/", box.metadata_get, box, "/x")

  expect_error("expected 3 arguments, got 2", box.metadata_set, box, "/private/x")
  expect_error("Bad argument #1, expected struct mailbox got table", box.metadata_set, user, "/private/x", "v")
  expect_error_at("bad argument #1 to 'metadata_set' (string expected, got nil)", function() box:metadata_set(nil, "v") end)
  expect_error("Cannot set attribute: Invalid key prefix, must be /private/ or /shared/", box.metadata_set, box, "x", "v")
  expect_error("Cannot set attribute: Attribute string value has NULs", box.metadata_set, box, "/private/x", "a\0b")
  expect_error("Cannot set attribute: The /private/specialuse attribute cannot be changed", box.metadata_set, box, "/private/specialuse", "\\Trash")
  expect_error("Cannot set attribute: The /shared/vendor/vendor.dovecot/pvt/server/admin attribute cannot be changed", box.metadata_set, box, "/shared/vendor/vendor.dovecot/pvt/server/admin", "me")
  eq(box:metadata_get("/private/x"), nil, "nothing was set")

  expect_error("expected 2 arguments, got 1", box.metadata_unset, box)
  expect_error("Bad argument #1, expected struct mailbox got nil", box.metadata_unset, nil, "/private/x")
  expect_error_at("bad argument #1 to 'metadata_unset' (string expected, got boolean)", function() box:metadata_unset(false) end)
  expect_error("Cannot unset attribute: Invalid key prefix, must be /private/ or /shared/", box.metadata_unset, box, "/public/x")
  expect_error("Cannot unset attribute: The /private/specialuse attribute cannot be changed", box.metadata_unset, box, "/private/specialuse")

  expect_error("expecting at least 1 parameter", box.metadata_list, box)
  expect_error("Bad argument #1, expected struct mailbox got table", box.metadata_list, {}, "/private/")
  expect_error("expected string at #2", box.metadata_list, box, {})
  expect_error("expected string at #3", box.metadata_list, box, "/private/", nil)
  expect_error("Invalid key prefix, must be /private/ or /shared/", box.metadata_list, box, "/shared/", "private/")
end
