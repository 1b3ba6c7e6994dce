// Package dovecoturl is a port of Dovecot 2.3's http_url_parse
// (src/lib-http/http-url.c over src/lib/uri-util.c, without a base URL):
// the http and https URLs dovecot.http accepts, what it makes of them (the
// Host header's value, the request target) and its error texts.
//
// It owns the URL parser and nothing else: dovecot.http (package bindings)
// parses request, proxy and redirect URLs with it. The package never
// imports the Lua VM, so it can be tested and fuzzed on its own
// (FuzzParse).
//
// Dovecot's quirks are kept: the path is decoded and re-encoded with
// lowercase escapes ("." and ".." segments resolved), the query stays as
// given, userinfo is accepted only with AllowUserinfo, fragments and
// relative URLs are refused, and a percent-escaped non-alphanumeric first
// character of a host name fails without an error text ("(null)").
package dovecoturl
