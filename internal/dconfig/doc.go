// Package dconfig owns pushlua's reading of Dovecot 2.3 configuration: the
// config file syntax (key = value, sections, !include, comments, line
// continuation), the plugin { } settings that mail_user_plugin_getenv would
// see, the -o key=value overrides, the push_notification_driver list and
// its <driver>[:<args>] value syntax, and Dovecot's time and boolean value
// syntax.
//
// The parser follows src/config/config-parser.c of Dovecot 2.3.19.1 so that
// a pasted Dovecot config yields the same values:
//
//   - Whitespace is space and TAB. Leading and trailing whitespace of a
//     line is dropped, and so is whitespace around "=".
//   - "#" outside quotes starts a comment wherever it is. As in Dovecot,
//     url=http://x/#frag loses "#frag"; when the "#" does not follow
//     whitespace a warning naming file:line is added to Config.Warnings.
//   - A value that starts and ends with the same quote (" or ') has the
//     quotes removed and backslash escapes undone (\x becomes x). Other
//     values are used as written.
//   - A line ending in a backslash continues on the next line; the parts
//     are joined with one space.
//   - An unquoted value containing "$" has its whitespace-separated tokens
//     that start with "$" expanded: $ENV:NAME from the environment, $name
//     from an earlier top-level setting. Dovecot also knows its built-in
//     defaults; pushlua does not, so an unknown $name expands to "".
//     Tokens are joined with single spaces, as Dovecot does.
//   - "key = <file" inside plugin { } reads the file's whole content
//     (relative to the file that names it). At top level the value is kept
//     as written ("<file") and the file is not opened, since the top-level
//     settings pushlua does not use include unreadable TLS keys.
//   - "name {" or "name arg {" opens a section, "}" closes it; sections
//     nest and may span !include files. Only the top-level plugin section
//     matters: its keys go to Config.Plugin, later values override earlier
//     ones and several plugin sections merge. A top-level key
//     "plugin/NAME" also sets Config.Plugin[NAME]. Every other section
//     (namespace, protocol, service, …) is checked for syntax, listed in
//     Config.Sections and otherwise ignored.
//   - "!include PATTERN" and "!include_try PATTERN" read other files. A
//     relative pattern is relative to the including file's directory; glob
//     patterns match in sorted order (Go's filepath.Match syntax, so no
//     {a,b} braces). A missing !include is an error, a missing or
//     unreadable !include_try is not, and an include loop is an error.
//
// Errors from parsing are *ParseError values naming the place as
// "file:line: what". ParseTime and ParseBool return Dovecot's own error
// texts (capitalised, as Dovecot logs them) because drivers copy them into
// their log lines.
package dconfig
