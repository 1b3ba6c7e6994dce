package bindings

// The mailbox object (spec §6.2; Dovecot 2.3's
// src/lib-storage/mailbox-lua.c and mailbox-attribute-lua.c), made by
// user:mailbox(name [, flags]). Its status and attributes come from the
// store: pushlua's last known view of the user's mail store.
//
// Differences from Dovecot, on purpose:
//   - name is the vname: pushlua has no storage layout to derive the
//     storage name (e.g. "Projects.Archiv-&AMQ-") from.
//   - box == other is false when other is not a mailbox (Dovecot raises or
//     crashes) and compares the user by name, not by namespace.
//   - __lt and __le compare the tostring() of both operands (Dovecot's are
//     swapped and crash on tables); see compareByString.
//   - close() and free() do nothing, and a freed mailbox stays usable
//     (Dovecot crashes when it is used after free()).
//   - the attribute methods work on a mailbox the store does not know
//     (the store keeps attributes without a status record), where Dovecot
//     would fail to open it.
//
// status() follows index_storage_get_open_status() rather than a one bit,
// one field rule: messages, uidvalidity, uidnext and first_recent_uid are
// always filled, recent/unseen/first_unseen_seq/highest_pvt_modseq/keywords
// only with their STATUS_* bit, highest_modseq (at least 1),
// nonpermanent_modseqs and no_modseq_tracking with STATUS_HIGHESTMODSEQ,
// permanent_flags, flags, permanent_keywords and allow_new_keywords with
// STATUS_PERMANENT_FLAGS (no permanent ones for a box allocated with
// MAILBOX_FLAG_READONLY), and have_guids, have_save_guids and
// have_only_guid128 always. The recorded traces agree: status with items 31
// shows first_recent_uid, and no_modseq_tracking only with HIGHESTMODSEQ.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/store"
)

// mailboxName is the registry name of the mailbox metatable.
const mailboxName = "struct mailbox"

// inboxName is the vname of INBOX, where server METADATA lives.
const inboxName = "INBOX"

// mailboxItem is the item of a mailbox object.
type mailboxItem struct {
	user  *mailUser
	vname string
	flags int64
}

// mailboxMethods is the mailbox metatable, in Dovecot's order.
var mailboxMethods = []lua.RegistryFunction{
	{Name: "__tostring", Function: mailboxToString},
	{Name: "__eq", Function: mailboxEq},
	{Name: "__lt", Function: compareByString(func(c int) bool { return c < 0 })},
	{Name: "__le", Function: compareByString(func(c int) bool { return c <= 0 })},
	{Name: "free", Function: mailboxNoop},
	{Name: "status", Function: mailboxStatus},
	{Name: "open", Function: mailboxOpen},
	{Name: "close", Function: mailboxNoop},
	{Name: "sync", Function: mailboxSync},
	{Name: "metadata_get", Function: mailboxMetadataGet},
	{Name: "metadata_set", Function: mailboxMetadataSet},
	{Name: "metadata_unset", Function: mailboxMetadataUnset},
	{Name: "metadata_list", Function: mailboxMetadataList},
}

// openMailbox registers the "struct mailbox" metatable.
func openMailbox(l *lua.State, _ *Env) {
	(&luax.Object{Name: mailboxName, Methods: mailboxMethods}).Register(l)
}

// pushMailbox pushes the mailbox object of mb: {item, vname, name}.
func pushMailbox(l *lua.State, mb *mailboxItem) {
	lua.CheckStackWithMessage(l, 5, "pushing a mailbox")
	userStrings.Push(l)
	si := l.Top()
	l.CreateTable(0, 4)
	t := l.Top()
	// The metatable has no __newindex: raw sets are what SetField does.
	l.RawGetInt(si, uItem)
	l.PushUserData(mb)
	pushItemGC(l, si)
	l.SetMetaTable(-2)
	l.RawSet(t)
	luax.SetMetaTableNamed(l, mailboxName)
	l.RawGetInt(si, uVname)
	l.PushString(mb.vname)
	l.PushValue(-1)
	l.RawGetInt(si, uName)
	l.Insert(-2)
	l.RawSet(t)
	l.RawSet(t)
	l.Remove(si)
}

// checkMailbox returns the mailbox at index or raises Dovecot's
// `Bad argument #<n>, expected struct mailbox got <type>`.
func checkMailbox(l *lua.State, index int) *mailboxItem {
	return (&luax.Object{Name: mailboxName}).Check(l, index).(*mailboxItem)
}

func mailboxToString(l *lua.State) int {
	luax.RequireArgs(l, 1)
	l.PushString(checkMailbox(l, 1).vname)
	return 1
}

func mailboxEq(l *lua.State) int {
	luax.RequireArgs(l, 2)
	o := luax.Object{Name: mailboxName}
	a, okA := o.Test(l, 1)
	b, okB := o.Test(l, 2)
	eq := false
	if okA && okB {
		x, y := a.(*mailboxItem), b.(*mailboxItem)
		eq = x.vname == y.vname && x.user.u.Username == y.user.u.Username
	}
	l.PushBoolean(eq)
	return 1
}

// mailboxNoop is box:close() and box:free().
func mailboxNoop(l *lua.State) int {
	luax.RequireArgs(l, 1)
	checkMailbox(l, 1)
	return 0
}

// mailboxOpen is box:open(): it fails when the store does not know the box.
func mailboxOpen(l *lua.State) int {
	luax.RequireArgs(l, 1)
	mb := checkMailbox(l, 1)
	if _, err := mb.lookup(); err != nil {
		luax.Raise(l, "mailbox_open(%s) failed: %s", mb.vname, mb.errText(err))
	}
	return 0
}

// mailboxSync is box:sync([flags]).
func mailboxSync(l *lua.State) int {
	luax.RequireArgsIn(l, 1, 2)
	mb := checkMailbox(l, 1)
	if l.Top() >= 2 {
		luaCheckInteger(l, 2, "sync", true)
	}
	if _, err := mb.lookup(); err != nil {
		luax.Raise(l, "mailbox_sync(%s) failed: %s", mb.vname, mb.errText(err))
	}
	return 0
}

// lookup returns the box's status record from the store.
func (mb *mailboxItem) lookup() (store.Status, error) {
	if err := mb.user.storeErr(); err != nil {
		return store.Status{}, err
	}
	return mb.user.env.Store.Status(mb.user.env.ctx(), mb.user.u.Username, mb.vname)
}

// errText is the text of a storage error, as mailbox_get_last_error gives
// it.
func (mb *mailboxItem) errText(err error) string {
	if errors.Is(err, store.ErrNoMailbox) {
		return "Mailbox doesn't exist: " + mb.vname
	}
	return err.Error()
}

// mailboxStatus is box:status(item, ...).
func mailboxStatus(l *lua.State) int {
	mb := checkMailbox(l, 1)
	if l.Top() < 2 {
		luax.Raise(l, "expecting at least 1 parameter")
	}
	var items uint32
	for i := 2; i <= l.Top(); i++ {
		items |= uint32(luaCheckInteger(l, i, "status", true))
	}
	st, withKeywords, err := mb.status(items)
	if err != nil {
		luax.Raise(l, "mailbox_get_status(%s, %d) failed: %s", mb.vname, items, mb.errText(err))
	}
	lua.CheckStackWithMessage(l, 4, "pushing a mailbox status")
	statusStrings.Push(l)
	si := l.Top()
	l.CreateTable(0, 20)
	t := l.Top()
	// A fresh table without a metatable: raw sets are what SetField
	// does. The keys come from strings interned in the state.
	l.RawGetInt(si, sMailbox)
	l.PushString(mb.vname)
	l.RawSet(t)
	for i, v := range [...]float64{float64(st.Messages), float64(st.Recent), float64(st.Unseen),
		float64(st.UIDValidity), float64(st.UIDNext), float64(st.FirstUnseenSeq), float64(st.FirstRecentUID),
		float64(st.HighestModseq), float64(st.HighestPvtModseq), float64(st.PermanentFlags), float64(st.Flags)} {
		l.RawGetInt(si, sMessages+i)
		l.PushNumber(v)
		l.RawSet(t)
	}
	for i, v := range [...]bool{st.PermanentKeywords, st.AllowNewKeywords, st.NonpermanentModseqs,
		st.NoModseqTracking, st.HaveGUIDs, st.HaveSaveGUIDs, st.HaveOnlyGUID128} {
		l.RawGetInt(si, sPermanentKeywords+i)
		l.PushBoolean(v)
		l.RawSet(t)
	}
	if withKeywords {
		l.RawGetInt(si, sKeywords)
		luax.PushStrings(l, st.Keywords)
		l.RawSet(t)
	}
	l.Remove(si)
	return 1
}

// The status table's field names, interned (statusStrings); s* are their
// 1-based indexes. The number fields follow sMessages, the bool fields
// sPermanentKeywords, in the order mailboxStatus sets them.
const (
	sMailbox = iota + 1
	sMessages
	sRecent
	sUnseen
	sUIDValidity
	sUIDNext
	sFirstUnseenSeq
	sFirstRecentUID
	sHighestModseq
	sHighestPvtModseq
	sPermanentFlags
	sFlags
	sPermanentKeywords
	sAllowNewKeywords
	sNonpermanentModseqs
	sNoModseqTracking
	sHaveGUIDs
	sHaveSaveGUIDs
	sHaveOnlyGUID128
	sKeywords
)

var statusStrings = &luax.Interned{Strs: []string{"mailbox", "messages", "recent", "unseen", "uidvalidity",
	"uidnext", "first_unseen_seq", "first_recent_uid", "highest_modseq", "highest_pvt_modseq",
	"permanent_flags", "flags", "permanent_keywords", "allow_new_keywords", "nonpermanent_modseqs",
	"no_modseq_tracking", "have_guids", "have_save_guids", "have_only_guid128", "keywords"}}

// status is mailbox_get_status(box, items): what Dovecot's index storage
// fills in for items, from the store's record (see the file comment), and
// whether the keywords were asked for.
func (mb *mailboxItem) status(items uint32) (store.Status, bool, error) {
	var out store.Status
	if items == 0 {
		// Dovecot opens nothing and only sets the storage's have_*
		// defaults, which are the same for every mailbox of the user.
		st, err := mb.lookup()
		if errors.Is(err, store.ErrNoMailbox) {
			st, err = (&mailboxItem{user: mb.user, vname: inboxName}).lookup()
		}
		if err != nil {
			return out, false, err
		}
		out.HaveGUIDs, out.HaveSaveGUIDs, out.HaveOnlyGUID128 = st.HaveGUIDs, st.HaveSaveGUIDs, st.HaveOnlyGUID128
		return out, false, nil
	}
	st, err := mb.lookup()
	if err != nil {
		return out, false, err
	}
	out.HaveGUIDs, out.HaveSaveGUIDs, out.HaveOnlyGUID128 = st.HaveGUIDs, st.HaveSaveGUIDs, st.HaveOnlyGUID128
	out.Messages = st.Messages
	out.UIDValidity = st.UIDValidity
	out.UIDNext = st.UIDNext
	out.FirstRecentUID = st.FirstRecentUID
	if items&StatusRecent != 0 {
		out.Recent = st.Recent
	}
	if items&StatusUnseen != 0 {
		out.Unseen = st.Unseen
	}
	if items&StatusHighestModseq != 0 {
		out.NonpermanentModseqs = st.NonpermanentModseqs
		out.NoModseqTracking = st.NoModseqTracking
		out.HighestModseq = max(st.HighestModseq, 1) // "we can't return 0"
	}
	if items&StatusHighestPvtModseq != 0 {
		out.HighestPvtModseq = st.HighestPvtModseq
	}
	if items&StatusFirstUnseenSeq != 0 {
		out.FirstUnseenSeq = st.FirstUnseenSeq
	}
	withKeywords := items&StatusKeywords != 0
	if withKeywords {
		out.Keywords = st.Keywords
	}
	if items&StatusPermanentFlags != 0 {
		if mb.flags&MailboxFlagReadonly == 0 {
			out.PermanentFlags = st.PermanentFlags
			out.PermanentKeywords = st.PermanentKeywords
			out.AllowNewKeywords = st.AllowNewKeywords
		}
		out.Flags = st.Flags
	}
	return out, withKeywords, nil
}

// mailboxMetadataGet is box:metadata_get(key, ...): one value (or nil) per
// attribute key.
func mailboxMetadataGet(l *lua.State) int {
	if l.Top() < 2 {
		luax.Raise(l, "expecting at least 1 parameter")
	}
	mb := checkMailbox(l, 1)
	return pushAttributes(l, mb.user, mb.vname, func(key string) string { return key })
}

// pushAttributes reads the attributes named by arguments 2..top of
// mailbox (each key through rewrite, which may raise) and pushes one value
// or nil per key: the body of user:metadata_get and box:metadata_get.
func pushAttributes(l *lua.State, mu *mailUser, mailbox string, rewrite func(key string) string) int {
	top := l.Top()
	vals := make([]*string, 0, top-1)
	for i := 2; i <= top; i++ {
		key, ok := argString(l, i)
		if !ok {
			luax.Raise(l, "expected string at #%d", i)
		}
		v, found, err := attrGet(mu, mailbox, rewrite(key))
		if err != nil {
			luax.Raise(l, "%s", err)
		}
		if found {
			vals = append(vals, &v)
		} else {
			vals = append(vals, nil)
		}
	}
	for _, v := range vals {
		if v == nil {
			l.PushNil()
		} else {
			l.PushString(*v)
		}
	}
	return len(vals)
}

// mailboxMetadataSet is box:metadata_set(key, value); a value that is
// neither a string nor a number unsets the key, as in Dovecot.
func mailboxMetadataSet(l *lua.State) int {
	luax.RequireArgs(l, 3)
	mb := checkMailbox(l, 1)
	key := luax.CString(luaCheckString(l, 2, "metadata_set", true))
	var value *string
	if v, ok := l.ToString(3); ok {
		value = &v
	}
	if err := attrSet(mb.user, mb.vname, key, value); err != nil {
		luax.Raise(l, "Cannot set attribute: %s", err)
	}
	return 0
}

// mailboxMetadataUnset is box:metadata_unset(key).
func mailboxMetadataUnset(l *lua.State) int {
	luax.RequireArgs(l, 2)
	mb := checkMailbox(l, 1)
	key := luax.CString(luaCheckString(l, 2, "metadata_unset", true))
	if err := attrSet(mb.user, mb.vname, key, nil); err != nil {
		luax.Raise(l, "Cannot unset attribute: %s", err)
	}
	return 0
}

// mailboxMetadataList is box:metadata_list(prefix, ...): one table of full
// key → value over all the prefixes.
func mailboxMetadataList(l *lua.State) int {
	if l.Top() < 2 {
		luax.Raise(l, "expecting at least 1 parameter")
	}
	mb := checkMailbox(l, 1)
	var items []attrItem
	for i := 2; i <= l.Top(); i++ {
		prefix, ok := argString(l, i)
		if !ok {
			luax.Raise(l, "expected string at #%d", i)
		}
		var err error
		if items, err = attrList(mb.user, mb.vname, prefix, items); err != nil {
			luax.Raise(l, "%s", err)
		}
	}
	l.CreateTable(0, len(items))
	for _, it := range items {
		l.PushString(it.value)
		l.SetField(-2, it.key)
	}
	return 1
}

// The attribute layer below reproduces mailbox_attribute_get/set/iter of
// Dovecot 2.3 over the store, with its internal attributes: the mailbox's
// /private/comment, /shared/comment (default rank: a stored value wins)
// and /private/specialuse, and on INBOX the server's
// /shared/vendor/vendor.dovecot/pvt/server/{admin,comment} (authority
// rank: read-only, and always unset since pushlua knows none of the
// settings they come from). The attribute dictionary is assumed to be
// configured (mail_attribute_dict), so iterations list the default-rank
// ones as well.

// attrItem is one key and value of a listing.
type attrItem struct{ key, value string }

// internalAttr is one internal attribute: its type prefix, its key under
// it and whether it is authority rank.
type internalAttr struct {
	typ, key  string
	authority bool
}

// internalAttrs is Dovecot's registry, in its order: type (private before
// shared), then key.
var internalAttrs = []internalAttr{
	{"/private/", "comment", false},
	{"/private/", "specialuse", true},
	{"/shared/", "comment", false},
	{"/shared/", store.ServerPrefix + "admin", true},
	{"/shared/", store.ServerPrefix + "comment", true},
}

// typeRank orders the attribute types as Dovecot's enum does.
func typeRank(typ string) int {
	if typ == "/private/" {
		return 0
	}
	return 1
}

// splitKey splits an attribute key into its type prefix ("/private/" or
// "/shared/") and the key under it.
func splitKey(key string) (typ, rel string, err error) {
	for _, p := range []string{"/private/", "/shared/"} {
		if rest, ok := strings.CutPrefix(key, p); ok {
			return p, rest, nil
		}
	}
	return "", "", store.ErrBadKey
}

// findInternal returns the internal attribute typ+rel of the mailbox, or
// nil. Server attributes exist on INBOX only.
func findInternal(typ, rel, vname string) *internalAttr {
	for i := range internalAttrs {
		a := &internalAttrs[i]
		if a.typ == typ && a.key == rel {
			if vname != inboxName && strings.HasPrefix(rel, store.ServerPrefix) {
				return nil
			}
			return a
		}
	}
	return nil
}

// attrGet returns the attribute key of the mailbox and whether it is set.
func attrGet(mu *mailUser, vname, key string) (string, bool, error) {
	typ, rel, err := splitKey(key)
	if err != nil {
		return "", false, err
	}
	if rel == "" {
		return "", false, nil // "never exists"
	}
	if a := findInternal(typ, rel, vname); a != nil && a.authority {
		return "", false, nil
	}
	if err := mu.storeErr(); err != nil {
		return "", false, err
	}
	return mu.env.Store.GetAttribute(mu.env.ctx(), mu.u.Username, vname, key)
}

// attrSet sets (value != nil) or unsets the attribute key of the mailbox.
func attrSet(mu *mailUser, vname, key string, value *string) error {
	typ, rel, err := splitKey(key)
	if err != nil {
		return err
	}
	if a := findInternal(typ, rel, vname); a != nil && a.authority {
		return fmt.Errorf("The %s%s attribute cannot be changed", typ, rel) //nolint:staticcheck // Dovecot's text
	}
	if value != nil && strings.IndexByte(*value, 0) >= 0 {
		return errors.New("Attribute string value has NULs") //nolint:staticcheck // Dovecot's text
	}
	if err := mu.storeErr(); err != nil {
		return err
	}
	// A write may go to a dict server (mail_attribute_dict): bounded by
	// what is left of the call's time budget.
	ctx, cancel := mu.env.blockingCtx()
	defer cancel()
	if value == nil {
		return mu.env.Store.UnsetAttribute(ctx, mu.u.Username, vname, key)
	}
	return mu.env.Store.SetAttribute(ctx, mu.u.Username, vname, key, *value)
}

// attrList appends the mailbox's attributes under prefix to items, as
// lua_storage_mailbox_attribute_list does: the stored keys that start with
// prefix (in key order), then the internal attributes under it, each with
// its value ("" when unset).
func attrList(mu *mailUser, vname, prefix string, items []attrItem) ([]attrItem, error) {
	typ, rel, err := splitKey(prefix)
	if err != nil {
		return items, err
	}
	if err := mu.storeErr(); err != nil {
		return items, err
	}
	stored, err := mu.env.Store.ListAttributes(mu.env.ctx(), mu.u.Username, vname, prefix)
	if err != nil {
		return items, err
	}
	extra := internalKeys(typ, rel, vname == inboxName)
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(stored)) {
		if !slices.ContainsFunc(extra, func(x string) bool { return strings.EqualFold(x, k[len(prefix):]) }) {
			keys = append(keys, k)
		}
	}
	for _, x := range extra {
		keys = append(keys, prefix+x)
	}
	for _, k := range keys {
		v, _, err := attrGet(mu, vname, k)
		if err != nil {
			return items, err
		}
		items = append(items, attrItem{k, v})
	}
	return items, nil
}

// internalKeys lists the internal attributes of type typ under rel, relative
// to rel without its trailing "/" (mailbox_internal_attributes_get; quirks
// included: a key is under rel only at a "/" boundary). Server attributes
// are left out unless inbox, judged on the relative key as Dovecot does.
func internalKeys(typ, rel string, inbox bool) []string {
	bare := strings.TrimSuffix(rel, "/")
	i := sort.Search(len(internalAttrs), func(j int) bool {
		a := internalAttrs[j]
		if r, s := typeRank(a.typ), typeRank(typ); r != s {
			return r > s
		}
		return a.key >= bare
	})
	var out []string
	for ; i < len(internalAttrs); i++ {
		a := internalAttrs[i]
		if a.typ != typ {
			break
		}
		key := a.key
		if bare != "" {
			if !strings.HasPrefix(key, bare) {
				break
			}
			switch {
			case len(key) == len(bare):
				key = ""
			case key[len(bare)] == '/':
				key = key[len(bare)+1:]
			default:
				return filterServer(out, inbox)
			}
		}
		out = append(out, key)
	}
	return filterServer(out, inbox)
}

// filterServer drops the server attributes unless inbox.
func filterServer(keys []string, inbox bool) []string {
	if inbox {
		return keys
	}
	return slices.DeleteFunc(keys, func(k string) bool { return strings.HasPrefix(k, store.ServerPrefix) })
}
