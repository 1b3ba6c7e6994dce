// Package e2e holds pushlua's end-to-end tests; it has no code of its own.
//
//   - forwarder_test.go runs scripts/dovecot/forward.lua (the Lua driver
//     that forwards Dovecot's push-notification transactions to pushlua)
//     outside Dovecot: in pushlua's own engine, and in the reference
//     lua5.4 interpreter with a mock dovecot API. It needs no Dovecot.
//   - dovecot_test.go runs a real, self-contained Dovecot 2.3 on loopback
//     (as root, its own base_dir, mail store and passwd-file) with the
//     forwarder, drives it over LMTP and IMAP, and checks every transaction
//     pushlua receives. It needs the dovecot-core, dovecot-imapd and
//     dovecot-lmtpd packages: without them it fails when $CI is set and is
//     skipped otherwise. E2E_DUMP=1 logs every forwarded transaction.
//
// receiver_test.go is the pushlua side of both: an HTTP server that takes
// POST /v1/transactions and parses every body with the transaction parser.
package e2e
