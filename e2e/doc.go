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
//   - doveadm_test.go asks the same real Dovecot's doveadm HTTP API through
//     internal/doveadm and pushlua's engine (pushlua_doveadm_url): the live
//     status and METADATA a script reads for a transaction without a
//     snapshot. -update rewrites the exchanges it records into
//     internal/doveadm/testdata/dovecot-2.3.json, which that package's
//     tests replay.
//
// receiver_test.go is the pushlua side of both: an HTTP server that takes
// POST /v1/transactions and parses every body with the transaction parser.
package e2e
