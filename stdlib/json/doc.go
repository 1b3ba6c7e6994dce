// Package json holds what the JSON modules (json/cjson, json/dkjson,
// json/luajson, json/jsonlua) share: number formatting, string escaping,
// table keys in a fixed order, UTF-8 building, C's strtod, the nesting bound
// and the text budget of the encoders. It is not a Lua module itself.
package json
