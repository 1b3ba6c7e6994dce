// Package redact masks credentials in text that leaves the process: log
// lines, /readyz, messages printed by the commands, error strings handed to
// scripts and HTTP clients, conformance reports.
//
// [String] replaces, with [Mask]:
//
//   - the password of a URL's userinfo, wherever a URL appears in the text
//     and whether it parses or not: `htp://login:SECRET@host/` becomes
//     `htp://login:xxxxx@host/`. The authority runs from "://" to the first
//     '/', '?', '#', space or control character, and the userinfo to its last
//     '@', as net/url reads it; a password that contains an unencoded '/',
//     '?' or '#' is still found when what follows the ':' is not a port
//     (`http://login:pa/ss@host/`). A userinfo without ':' is kept, as
//     net/url's URL.Redacted keeps it: a user name is not a secret.
//   - the value of a credential-looking parameter after '?', '&' or ';'
//     (`?token=abc` becomes `?token=xxxxx`): token, access_token,
//     refresh_token, id_token, auth_token, api_key, apikey, key, password,
//     passwd, pass, pwd, secret, client_secret, signature, sig,
//     x-amz-signature, x-amz-security-token (names compared without case).
//   - the credentials of an Authorization or Proxy-Authorization header
//     written as `name: value` or `name=value` (quotes and brackets around
//     either allowed, as in Go's and Lua's dumps of a header table); a scheme
//     word is kept: `Authorization: Basic xxxxx`.
//
// It does not find a secret that is not shaped like one of these (a password
// in free text, a userinfo without a scheme: `login:pass@host`). Text
// without "://", '=' or "authorization" is returned as it is without
// allocating. String is idempotent: masking masked text changes nothing.
//
// Only credentials are touched; escaping control characters is the log
// format's job (internal/logx).
package redact
