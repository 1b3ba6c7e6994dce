package bindings

import (
	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
)

// The numeric constants of dovecot.storage (spec §6.4), from Dovecot's
// mail-storage.h. The mailbox bindings use the STATUS_* bits.
const (
	StatusMessages         = 0x01
	StatusRecent           = 0x02
	StatusUIDNext          = 0x04
	StatusUIDValidity      = 0x08
	StatusUnseen           = 0x10
	StatusFirstUnseenSeq   = 0x20
	StatusKeywords         = 0x40
	StatusHighestModseq    = 0x80
	StatusPermanentFlags   = 0x200
	StatusFirstRecentUID   = 0x400
	StatusHighestPvtModseq = 0x2000

	MailboxFlagReadonly      = 0x01
	MailboxFlagSaveonly      = 0x02
	MailboxFlagDropRecent    = 0x04
	MailboxFlagNoIndexFiles  = 0x10
	MailboxFlagKeepLocked    = 0x20
	MailboxFlagIgnoreACLs    = 0x100
	MailboxFlagAutoCreate    = 0x1000
	MailboxFlagAutoSubscribe = 0x2000

	MailboxSyncFlagFullRead        = 0x01
	MailboxSyncFlagFullWrite       = 0x02
	MailboxSyncFlagFast            = 0x04
	MailboxSyncFlagNoExpunges      = 0x08
	MailboxSyncFlagFixInconsistent = 0x40
	MailboxSyncFlagExpunge         = 0x80
	MailboxSyncFlagForceResync     = 0x100
)

// The string constants of dovecot.storage: the METADATA name prefixes
// Dovecot reserves for itself.
const (
	MailboxAttributePrefixDovecot          = "vendor/vendor.dovecot/"
	MailboxAttributePrefixDovecotPvt       = "vendor/vendor.dovecot/pvt/"
	MailboxAttributePrefixDovecotPvtServer = "vendor/vendor.dovecot/pvt/server/"
)

// storageConstant is one entry of dovecot.storage: a number or a string.
type storageConstant struct {
	name   string
	number float64
	str    string
}

// storageConstants lists dovecot.storage in Dovecot's order
// (lua_storage_mail_storage_flags in mail-storage-lua.c). Upstream lists
// MAILBOX_FLAG_AUTO_CREATE and MAILBOX_FLAG_AUTO_SUBSCRIBE, so pushlua has
// them, although Debian's bookworm build lacks them (spec §6.4).
var storageConstants = []storageConstant{
	{name: "STATUS_MESSAGES", number: StatusMessages},
	{name: "STATUS_RECENT", number: StatusRecent},
	{name: "STATUS_UIDNEXT", number: StatusUIDNext},
	{name: "STATUS_UIDVALIDITY", number: StatusUIDValidity},
	{name: "STATUS_UNSEEN", number: StatusUnseen},
	{name: "STATUS_FIRST_UNSEEN_SEQ", number: StatusFirstUnseenSeq},
	{name: "STATUS_KEYWORDS", number: StatusKeywords},
	{name: "STATUS_HIGHESTMODSEQ", number: StatusHighestModseq},
	{name: "STATUS_PERMANENT_FLAGS", number: StatusPermanentFlags},
	{name: "STATUS_FIRST_RECENT_UID", number: StatusFirstRecentUID},
	{name: "STATUS_HIGHESTPVTMODSEQ", number: StatusHighestPvtModseq},

	{name: "MAILBOX_FLAG_READONLY", number: MailboxFlagReadonly},
	{name: "MAILBOX_FLAG_SAVEONLY", number: MailboxFlagSaveonly},
	{name: "MAILBOX_FLAG_DROP_RECENT", number: MailboxFlagDropRecent},
	{name: "MAILBOX_FLAG_NO_INDEX_FILES", number: MailboxFlagNoIndexFiles},
	{name: "MAILBOX_FLAG_KEEP_LOCKED", number: MailboxFlagKeepLocked},
	{name: "MAILBOX_FLAG_IGNORE_ACLS", number: MailboxFlagIgnoreACLs},
	{name: "MAILBOX_FLAG_AUTO_CREATE", number: MailboxFlagAutoCreate},
	{name: "MAILBOX_FLAG_AUTO_SUBSCRIBE", number: MailboxFlagAutoSubscribe},

	{name: "MAILBOX_SYNC_FLAG_FULL_READ", number: MailboxSyncFlagFullRead},
	{name: "MAILBOX_SYNC_FLAG_FULL_WRITE", number: MailboxSyncFlagFullWrite},
	{name: "MAILBOX_SYNC_FLAG_FAST", number: MailboxSyncFlagFast},
	{name: "MAILBOX_SYNC_FLAG_NO_EXPUNGES", number: MailboxSyncFlagNoExpunges},
	{name: "MAILBOX_SYNC_FLAG_FIX_INCONSISTENT", number: MailboxSyncFlagFixInconsistent},
	{name: "MAILBOX_SYNC_FLAG_EXPUNGE", number: MailboxSyncFlagExpunge},
	{name: "MAILBOX_SYNC_FLAG_FORCE_RESYNC", number: MailboxSyncFlagForceResync},

	{name: "MAILBOX_ATTRIBUTE_PREFIX_DOVECOT", str: MailboxAttributePrefixDovecot},
	{name: "MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT", str: MailboxAttributePrefixDovecotPvt},
	{name: "MAILBOX_ATTRIBUTE_PREFIX_DOVECOT_PVT_SERVER", str: MailboxAttributePrefixDovecotPvtServer},
}

// storageMethods is the registration table of the "storage" metatable. It
// is empty, as Dovecot's lua_storage_methods is: dovecot.storage only holds
// constants.
var storageMethods = []lua.RegistryFunction{}

// openStorage sets dovecot.storage (spec §6.4): a plain table of the
// constants (numbers are Lua floats, as Dovecot pushes them with
// lua_pushnumber) whose metatable is registered as "storage" and has only
// __index (itself) and __name. openDovecot must have run.
func openStorage(l *lua.State, _ *Env) {
	l.Global("dovecot")
	l.CreateTable(0, len(storageConstants))
	for _, c := range storageConstants {
		if c.str != "" {
			l.PushString(c.str)
		} else {
			l.PushNumber(c.number)
		}
		l.SetField(-2, c.name)
	}
	luax.NewMetaTable(l, "storage", storageMethods, 0)
	l.SetMetaTable(-2)
	l.SetField(-2, "storage")
	l.Pop(1)
}
