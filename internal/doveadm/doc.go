// Package doveadm owns pushlua's live view of a Dovecot mail store: a
// client of Dovecot's doveadm HTTP API (`service doveadm { inet_listener
// http { } }` with `doveadm_api_key`) and Store, a store.Store that asks
// it, during a transaction, for what the transaction's snapshot did not
// carry.
//
// The protocol (Dovecot 2.3's src/doveadm/client-connection-http.c): a
// POST to /doveadm/v1 with `Authorization: X-Dovecot-API <base64 of the
// key>` and a JSON array of commands, each `[name, {parameters}, tag]`.
// The answer is 200 with one row per command, in order: `["doveadmResponse",
// [rows], tag]` with every value a string, or `["error", {"type": T,
// "exitCode": N}, tag]` (type "exitCode" when the command failed, with
// sysexits codes: 67 no such user, 68 not found; "unknownMethod",
// "invalidRequest", "unAuthorized" when it did not run). A wrong key is a 401;
// Dovecot closes the connection after every request. A command given a
// parameter value it does not know (a status field, a METADATA key without
// /private or /shared) kills the doveadm process: the client never sends
// one, and reports the empty answer as an error.
//
// Client.MailboxStatus runs mailboxStatus with the six fields doveadm can
// report (messages, recent, uidnext, uidvalidity, unseen, highestmodseq);
// Client.MetadataGet runs mailboxMetadataGet and mailboxMetadataList in one
// request, because doveadm prints an unset key and an empty value alike
// and only the listing tells them apart.
//
// Store wraps the persistent store. Outside a transaction (no WithTxn in
// the context: script_init, `pushlua metadata`) it is the persistent store.
// Inside one, Status of a mailbox the transaction's status snapshot does
// not name, and GetAttribute of a key its METADATA snapshot does not name
// (and the transaction's scripts have not written), ask doveadm; each
// answer, failures included, is kept for the rest of the transaction, so a
// transaction asks doveadm at most once per mailbox and per key. A mailbox
// doveadm does not find is store.ErrNoMailbox. Any other failure is logged
// at Error level with the transaction's logger and returned as Dovecot's
// own text for a storage failure ("Internal error occurred. Refer to server
// log for more information. [time]"), which is what a script running
// inside Dovecot would see. Writes and listings always use the persistent
// store: pushlua never changes Dovecot's mail store.
package doveadm
