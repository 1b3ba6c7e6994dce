package bindings

// The mail_user object (spec §6.1; Dovecot 2.3's
// src/lib-storage/mail-user-lua.c). The runtime pushes one as the argument
// of dovecot_lua_notify_begin_txn with PushUser.
//
// Differences from Dovecot, on purpose:
//   - __eq, __lt and __le compare the tostring() of both operands. Dovecot
//     uses lua_tostring, which gives NULL for tables, and has __lt and __le
//     swapped (__lt is "<= 0", __le is "< 0"); here a < b and a <= b mean what
//     they say.
//   - plugin_getenv(name) raises Lua's usual "bad argument" error when name
//     is not a string or number (Dovecot passes NULL on and crashes).
//   - user:mailbox() never fails: pushlua models a single namespace with an
//     empty prefix, so "No namespace found for mailbox <name>" cannot occur.
//   - var_expand: the %-variables whose value pushlua cannot know expand to
//     "" (%l, %r and their long forms), %{userdb:...} and the extensions
//     (%{if;...}, %{md5:...} and the other hash methods, %{pkcs5:...}) raise
//     `var_expand(<fmt>) failed: ...` instead of expanding.
//   - strings reach the storage as C strings do: cut at the first NUL.

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	lua "github.com/Shopify/go-lua"

	"github.com/pushlua/pushlua/internal/luax"
	"github.com/pushlua/pushlua/internal/store"
	"github.com/pushlua/pushlua/internal/txn"
)

// mailUserName is the registry name of the mail_user metatable.
const mailUserName = "struct mail_user"

// mailUser is the item of a mail_user object: a snapshot of the
// transaction's user and the Env of the state it lives in.
type mailUser struct {
	env *Env
	u   txn.User
}

// mailUserMethods is the mail_user metatable, in Dovecot's order.
var mailUserMethods = []lua.RegistryFunction{
	{Name: "__tostring", Function: userToString},
	{Name: "__eq", Function: userEq},
	{Name: "__lt", Function: compareByString(func(c int) bool { return c < 0 })},
	{Name: "__le", Function: compareByString(func(c int) bool { return c <= 0 })},
	{Name: "plugin_getenv", Function: userPluginGetenv},
	{Name: "var_expand", Function: userVarExpand},
	{Name: "mailbox", Function: userMailbox},
	{Name: "metadata_get", Function: userMetadataGet},
	{Name: "metadata_set", Function: userMetadataSet},
	{Name: "metadata_unset", Function: userMetadataUnset},
	{Name: "metadata_list", Function: userMetadataList},
}

// openMailUser registers the "struct mail_user" metatable.
func openMailUser(l *lua.State, _ *Env) {
	(&luax.Object{Name: mailUserName, Methods: mailUserMethods}).Register(l)
}

// PushUser pushes the mail_user object of u, as dlua_push_mail_user does:
// a table {item=<userdata>, username=..., ...} with the "struct mail_user"
// metatable. The fields are a snapshot; the methods use u and env. It runs
// for every transaction: the field names come from strings interned in
// the state (userStrings), not boxed again each time.
func PushUser(l *lua.State, env *Env, u *txn.User) {
	mu := &mailUser{env: env, u: *u}
	lua.CheckStackWithMessage(l, 6, "pushing a mail_user")
	userStrings.Push(l)
	si := l.Top()
	l.CreateTable(0, 20)
	t := l.Top()
	// The metatable has no __newindex: raw sets are what SetField does.
	key := func(k int) { l.RawGetInt(si, k) }
	key(uItem)
	l.PushUserData(mu)
	pushItemGC(l, si)
	l.SetMetaTable(-2)
	l.RawSet(t)
	luax.SetMetaTableNamed(l, mailUserName)
	if u.HasHome {
		key(uHome)
		l.PushString(u.Home)
		l.RawSet(t)
	}
	key(uUsername)
	l.PushString(u.Username)
	l.RawSet(t)
	key(uUID)
	l.PushNumber(float64(u.UID))
	l.RawSet(t)
	key(uGID)
	l.PushNumber(float64(u.GID))
	l.RawSet(t)
	key(uService)
	l.PushString(u.Service)
	l.RawSet(t)
	key(uSessionID)
	l.PushString(u.SessionID)
	l.RawSet(t)
	key(uSessionCreateTime)
	l.PushNumber(float64(u.SessionCreateTime))
	l.RawSet(t)
	for i, v := range [...]bool{u.Nonexistent, u.Anonymous, u.Autocreated, env.debug(), u.FuzzySearch,
		u.Dsyncing, u.Admin, u.SessionRestored} {
		key(uNonexistent + i)
		l.PushBoolean(v)
		l.RawSet(t)
	}
	l.Remove(si)
}

// The mail_user object's field names, interned (userStrings); u* are
// their 1-based indexes. The boolean fields follow uNonexistent in the
// order PushUser sets them.
const (
	uItem = iota + 1
	uHome
	uUsername
	uUID
	uGID
	uService
	uSessionID
	uSessionCreateTime
	uNonexistent
	uAnonymous
	uAutocreated
	uMailDebug
	uFuzzySearch
	uDsyncing
	uAdmin
	uSessionRestored
	uGC
	uVname // the mailbox object's
	uName
)

var userStrings = &luax.Interned{Strs: []string{"item", "home", "username", "uid", "gid", "service",
	"session_id", "session_create_time", "nonexistent", "anonymous", "autocreated", "mail_debug",
	"fuzzy_search", "dsyncing", "admin", "session_restored", "__gc", "vname", "name"}}

// itemGC is the __gc function of the items' metatables.
var itemGC = func(*lua.State) int { return 0 }

// pushItemGC pushes a new metatable for an object's item with a __gc
// field, as Dovecot gives each item one. go-lua has no finalizers; the
// field only keeps getmetatable(obj.item) faithful. The function is
// pushed once per state and kept in the registry. si is the absolute
// index of userStrings' table.
func pushItemGC(l *lua.State, si int) {
	l.CreateTable(0, 1)
	l.RawGetInt(si, uGC)
	l.PushLightUserData(&itemGC)
	l.RawGet(lua.RegistryIndex)
	if l.IsNil(-1) {
		l.Pop(1)
		l.PushGoFunction(itemGC)
		l.PushLightUserData(&itemGC)
		l.PushValue(-2)
		l.RawSet(lua.RegistryIndex)
	}
	l.RawSet(-3)
}

// setItemGC gives the item userdata of the object table at the top of the
// stack a metatable with a __gc field, as Dovecot's items have (see
// pushItemGC).
func setItemGC(l *lua.State) {
	l.Field(-1, "item")
	userStrings.Push(l)
	pushItemGC(l, l.Top())
	l.Remove(-2)
	l.SetMetaTable(-2)
	l.Pop(1)
}

// checkUser returns the mail_user at index or raises Dovecot's
// `Bad argument #<n>, expected struct mail_user got <type>`.
func checkUser(l *lua.State, index int) *mailUser {
	return (&luax.Object{Name: mailUserName}).Check(l, index).(*mailUser)
}

// compareByString returns an __lt/__le metamethod comparing the tostring()
// of both operands; ok says whether the comparison result c (as
// strings.Compare) makes the relation true.
func compareByString(ok func(c int) bool) lua.Function {
	return func(l *lua.State) int {
		luax.RequireArgs(l, 2)
		a, _ := lua.ToStringMeta(l, 1)
		b, _ := lua.ToStringMeta(l, 2)
		l.PushBoolean(ok(strings.Compare(a, b)))
		return 1
	}
}

func userToString(l *lua.State) int {
	luax.RequireArgs(l, 1)
	l.PushString(checkUser(l, 1).u.Username)
	return 1
}

func userEq(l *lua.State) int {
	luax.RequireArgs(l, 2)
	a, _ := lua.ToStringMeta(l, 1)
	b, _ := lua.ToStringMeta(l, 2)
	l.PushBoolean(a == b)
	return 1
}

// userPluginGetenv is user:plugin_getenv(name): the plugin setting or nil.
func userPluginGetenv(l *lua.State) int {
	luax.RequireArgs(l, 2)
	mu := checkUser(l, 1)
	name := luax.CString(luaCheckString(l, 2, "plugin_getenv", true))
	if mu.env.Getenv != nil {
		if v, ok := mu.env.Getenv(name); ok {
			l.PushString(v)
			return 1
		}
	}
	l.PushNil()
	return 1
}

// userVarExpand is user:var_expand(fmt).
func userVarExpand(l *lua.State) int {
	luax.RequireArgs(l, 2)
	mu := checkUser(l, 1)
	format := luax.CString(luaCheckString(l, 2, "var_expand", true))
	s, err := varExpand(format, mu.varTable())
	if err != nil {
		luax.Raise(l, "var_expand(%s) failed: %s", format, err)
	}
	l.PushString(s)
	return 1
}

// userMailbox is user:mailbox(name [, flags]): a mailbox object, not opened.
func userMailbox(l *lua.State) int {
	luax.RequireArgsIn(l, 2, 3)
	mu := checkUser(l, 1)
	name := luax.CString(luaCheckString(l, 2, "mailbox", true))
	var flags int64
	if l.Top() >= 3 {
		flags = luaCheckInteger(l, 3, "mailbox", true)
	}
	pushMailbox(l, &mailboxItem{user: mu, vname: normalizeInbox(name), flags: flags})
	return 1
}

// userMetadataGet is user:metadata_get(key, ...): one value (or nil) per
// server METADATA key.
func userMetadataGet(l *lua.State) int {
	if l.Top() < 2 {
		luax.Raise(l, "expecting at least 1 parameter")
	}
	mu := checkUser(l, 1)
	mu.openInbox(l)
	return pushAttributes(l, mu, inboxName, func(key string) string {
		skey, err := store.ServerKey(key)
		if err != nil {
			luax.Raise(l, "%s", store.ErrBadKey)
		}
		return skey
	})
}

// userMetadataSet is user:metadata_set(key, value). As in Dovecot, a value
// that is neither a string nor a number unsets the key.
func userMetadataSet(l *lua.State) int {
	luax.RequireArgs(l, 3)
	mu := checkUser(l, 1)
	key := luax.CString(luaCheckString(l, 2, "metadata_set", true))
	var value *string
	if v, ok := l.ToString(3); ok {
		value = &v
	}
	mu.setMetadata(l, key, value)
	return 0
}

// userMetadataUnset is user:metadata_unset(key).
func userMetadataUnset(l *lua.State) int {
	luax.RequireArgs(l, 2)
	mu := checkUser(l, 1)
	key := luax.CString(luaCheckString(l, 2, "metadata_unset", true))
	mu.setMetadata(l, key, nil)
	return 0
}

// setMetadata writes (value != nil) or removes a server METADATA key.
// Dovecot reports a failed write as "Cannot get attribute" (sic).
func (mu *mailUser) setMetadata(l *lua.State, key string, value *string) {
	skey, err := store.ServerKey(key)
	if err != nil {
		luax.Raise(l, "%s", store.ErrBadKey)
	}
	mu.openInbox(l)
	if err := attrSet(mu, inboxName, skey, value); err != nil {
		luax.Raise(l, "Cannot get attribute: %s", err)
	}
}

// userMetadataList is user:metadata_list(prefix, ...): one table of the
// server METADATA under all the prefixes, keys in their user-facing form.
func userMetadataList(l *lua.State) int {
	if l.Top() < 2 {
		luax.Raise(l, "expecting at least 1 parameter")
	}
	mu := checkUser(l, 1)
	mu.openInbox(l)
	var items []attrItem
	for i := 2; i <= l.Top(); i++ {
		prefix, ok := argString(l, i)
		if !ok {
			luax.Raise(l, "expected string at #%d", i)
		}
		sprefix, err := store.ServerKey(prefix)
		if err != nil {
			luax.Raise(l, "%s", store.ErrBadKey)
		}
		if items, err = attrList(mu, inboxName, sprefix, items); err != nil {
			luax.Raise(l, "%s", err)
		}
	}
	l.CreateTable(0, len(items))
	for _, it := range items {
		l.PushString(it.value)
		l.SetField(-2, store.UserKey(it.key))
	}
	return 1
}

// openInbox stands for Dovecot's mailbox_open(INBOX) before a server
// METADATA access: INBOX always exists, so only a store that cannot be used
// (or a cancelled call) fails it.
func (mu *mailUser) openInbox(l *lua.State) {
	if err := mu.storeErr(); err != nil {
		luax.Raise(l, "Cannot open INBOX: %s", err)
	}
}

// storeErr reports why the store cannot be used now, or nil.
func (mu *mailUser) storeErr() error {
	if mu.env.Store == nil {
		return errNoStore
	}
	return mu.env.ctx().Err()
}

var errNoStore = errors.New("no mail store configured")

// argString returns the string (or number, converted) argument at index, as
// lua_tostring does, cut at its first NUL like a C string.
func argString(l *lua.State, index int) (string, bool) {
	s, ok := l.ToString(index)
	return luax.CString(s), ok
}

// normalizeInbox upper-cases INBOX in a mailbox name as mailbox_alloc does
// ("inbox" → "INBOX", "inbox/x" → "INBOX/x"; pushlua assumes the "/"
// hierarchy separator).
func normalizeInbox(name string) string {
	if len(name) >= 5 && strings.EqualFold(name[:5], inboxName) && name[:5] != inboxName {
		if len(name) == 5 || name[5] == '/' {
			return inboxName + name[5:]
		}
	}
	return name
}

// varEntry is one variable of a var_expand table: a one-letter key (0 for
// none) and a long key.
type varEntry struct {
	key   byte
	long  string
	value string
}

// varTable returns the user's var_expand table, in the order of
// mail_user_var_expand_table() (Dovecot 2.3).
func (mu *mailUser) varTable() []varEntry {
	u := &mu.u
	username, domain, _ := strings.Cut(u.Username, "@")
	home := ""
	if u.HasHome {
		home = u.Home
	}
	hostname, _ := os.Hostname()
	pid := strconv.Itoa(os.Getpid())
	return []varEntry{
		{'u', "user", u.Username},
		{'n', "username", username},
		{'d', "domain", domain},
		{'s', "service", u.Service},
		{'h', "home", home},
		{'l', "lip", ""}, // pushlua does not know the connection's IPs
		{'r', "rip", ""},
		{'p', "pid", pid},
		{'i', "uid", strconv.FormatUint(uint64(u.UID), 10)},
		{0, "gid", strconv.FormatUint(uint64(u.GID), 10)},
		{0, "session", u.SessionID},
		{0, "auth_user", u.Username},
		{0, "auth_username", username},
		{0, "auth_domain", domain},
		{0, "hostname", hostname},
		{0, "local_ip", ""},
		{0, "remote_ip", ""},
	}
}

// varExtensions are the var_expand extensions Dovecot 2.3 registers (the
// hash methods, pkcs5 and if); pushlua implements none of them.
var varExtensions = []string{
	"md4", "md5", "sha1", "sha256", "sha384", "sha512", "sha3-256", "sha3-512", "size",
	"pkcs5", "if",
}

// varExpand expands format like Dovecot 2.3's var_expand_with_funcs() with
// the mail_user function table: [<offset>.]<width>, the modifiers
// L U E X R H N M D T, %% and %{long} keys. An unknown variable expands to
// UNSUPPORTED_VARIABLE_<name> and is not an error (Dovecot's Lua binding
// only fails on errors, not on unknown variables); an error is returned
// only for what pushlua cannot expand.
func varExpand(format string, table []varEntry) (string, error) {
	var out strings.Builder
	s := format
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out.WriteByte(s[i])
			continue
		}
		i++
		var ctx varCtx
		sign := 1
		if i < len(s) && s[i] == '-' {
			sign = -1
			i++
		}
		if i < len(s) && s[i] == '0' {
			ctx.zeroPadding = true
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			ctx.width = ctx.width*10 + int(s[i]-'0')
			i++
		}
		if i < len(s) && s[i] == '.' {
			ctx.offset = sign * ctx.width
			sign = 1
			ctx.width = 0
			i++
			ctx.zeroPadding = false
			if i < len(s) && s[i] == '0' {
				ctx.zeroPadding = true
				i++
			}
			if i < len(s) && s[i] == '-' {
				sign = -1
				i++
			}
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				ctx.width = ctx.width*10 + int(s[i]-'0')
				i++
			}
			ctx.width *= sign
		}
		var mods []varModifier
		for len(mods) < 10 && i < len(s) {
			m := varModifiers[s[i]]
			if m == nil {
				break
			}
			mods = append(mods, m)
			i++
		}
		if i >= len(s) {
			break
		}

		var (
			v     string
			known bool
			err   error
		)
		if s[i] == '{' && strings.IndexByte(s[i:], '}') >= 0 {
			end, depth, escape := i, 1, false
			for end+1 < len(s) && depth > 0 {
				end++
				c := s[end]
				if !escape && c == '\\' {
					escape = true
					continue
				}
				if escape {
					escape = false
					continue
				}
				if c == '{' {
					depth++
				}
				if c == '}' {
					depth--
				}
			}
			key := s[i+1 : end]
			if depth > 0 { // no matching '}': the key runs to the end
				key = s[i+1:]
			}
			v, known, err = varExpandLong(key, table)
			if err != nil {
				return "", err
			}
			i = end
		} else {
			v, known = varExpandShort(s[i], table)
		}
		if !known {
			out.WriteString(v)
			continue
		}
		for _, m := range mods {
			v = m(v, &ctx)
		}
		if ctx.offset < 0 {
			if n := -ctx.offset; len(v) > n {
				v = v[len(v)-n:]
			}
		} else if ctx.offset > 0 {
			v = v[min(ctx.offset, len(v)):]
		}
		switch {
		case ctx.width == 0:
			out.WriteString(v)
		case !ctx.zeroPadding:
			w := ctx.width
			if w < 0 {
				w = len(v) + w
			}
			if w < 0 || w > len(v) { // Dovecot's size_t wraps: no cut
				w = len(v)
			}
			out.WriteString(v[:w])
		default:
			for n := len(v); n < ctx.width; n++ {
				out.WriteByte('0')
			}
			out.WriteString(v)
		}
	}
	return out.String(), nil
}

// varExpandShort looks up a one-letter variable.
func varExpandShort(key byte, table []varEntry) (string, bool) {
	for _, e := range table {
		if e.key != 0 && e.key == key {
			return e.value, true
		}
	}
	if key == '%' {
		return "%", true
	}
	return "UNSUPPORTED_VARIABLE_" + string([]byte{key}), false
}

// varExpandLong looks up a %{long} variable (var_expand_long).
func varExpandLong(key string, table []varEntry) (string, bool, error) {
	for _, e := range table {
		if e.long == key {
			return e.value, true, nil
		}
	}
	name, data, _ := strings.Cut(key, ":")
	ext, _, _ := strings.Cut(name, ";")
	for _, x := range varExtensions {
		if strings.EqualFold(ext, x) {
			return "", false, fmt.Errorf("%%{%s} is not supported by pushlua", ext)
		}
	}
	switch name {
	case "env":
		return os.Getenv(data), true, nil
	case "userdb":
		return "", false, fmt.Errorf("%%{%s} is not supported by pushlua", name)
	}
	return "UNSUPPORTED_VARIABLE_" + name, false, nil
}

// varCtx is the per-variable state the modifiers share.
type varCtx struct {
	offset, width int
	zeroPadding   bool
}

// varModifier is one var_expand modifier.
type varModifier func(string, *varCtx) string

// varModifiers are Dovecot 2.3's var_expand modifiers.
var varModifiers = map[byte]varModifier{
	'L': func(s string, _ *varCtx) string { return asciiMap(s, 'A', 'Z', 'a'-'A') },
	'U': func(s string, _ *varCtx) string { return asciiMap(s, 'a', 'z', 'A'-'a') },
	'E': func(s string, _ *varCtx) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c == '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
		}
		return b.String()
	},
	'X': func(s string, _ *varCtx) string {
		n, err := strconv.ParseUint(s, 10, 64) // str_to_ullong: digits only
		if err != nil {
			n = 0
		}
		return strconv.FormatUint(n, 16)
	},
	'R': func(s string, _ *varCtx) string {
		b := []byte(s)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	},
	'H': func(s string, ctx *varCtx) string {
		// unsigned int %= int: the width converts to 32 bits.
		return varHash(uint64(strHash(s)), uint64(uint32(ctx.width)), ctx)
	},
	'N': func(s string, ctx *varCtx) string {
		// uint64_t %= int: the width converts (sign-extended) to 64 bits.
		sum := md5.Sum([]byte(s))
		return varHash(binary.BigEndian.Uint64(sum[:8]), uint64(int64(ctx.width)), ctx)
	},
	'M': func(s string, _ *varCtx) string {
		sum := md5.Sum([]byte(s))
		return hex.EncodeToString(sum[:])
	},
	'D': func(s string, _ *varCtx) string { return strings.ReplaceAll(s, ".", ",dc=") },
	'T': func(s string, _ *varCtx) string {
		return strings.TrimRight(s, " \t\n\v\f\r")
	},
}

// varHash finishes the H and N modifiers: the hash modulo the width (mod,
// the width as C converts it), in hex (32 bits), zero-padded to the offset;
// the width and the offset are consumed.
func varHash(v, mod uint64, ctx *varCtx) string {
	if ctx.width != 0 {
		if mod != 0 {
			v %= mod
		}
		ctx.width = 0
	}
	h := strconv.FormatUint(uint64(uint32(v)), 16)
	for len(h) < ctx.offset {
		h = "0" + h
	}
	ctx.offset = 0
	return h
}

// strHash is Dovecot's str_hash (the ELF hash).
func strHash(s string) uint32 {
	var h uint32
	for i := 0; i < len(s); i++ {
		h = h<<4 + uint32(s[i])
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
			h ^= g
		}
	}
	return h
}

// asciiMap shifts the ASCII letters lo..hi by delta (i_tolower/i_toupper).
func asciiMap(s string, lo, hi byte, delta int) string {
	b := []byte(s)
	for i, c := range b {
		if c >= lo && c <= hi {
			b[i] = byte(int(c) + delta)
		}
	}
	return string(b)
}
