// Package spool owns the reading side of a spool directory
// (docs/spool.md): the files `pl-<pid>-<start>-<rand>.open` and `.jsonl`
// that the Dovecot-side forwarder appends transactions to, one JSON line
// each, and that pushlua's own write-ahead log (package wal) writes in the
// same format.
//
// A Reader watches the directory (fsnotify, plus a periodic rescan so that
// a dropped event delays a line but never loses it), tails the .open files
// and reads the .jsonl ones, oldest <start> first, the lines of one file in
// order. Only complete lines (ending in "\n") are parsed. A line that is not
// a valid transaction or is longer than Options.MaxLineBytes is logged once,
// with file:line, and skipped; the last line of a closed file that has no
// "\n" (its writer crashed mid-write) is logged once, with the file and
// offset, and skipped. An .open file whose writer pid no longer exists and
// that has not changed for Options.StaleAfter is treated as closed.
//
// Every transaction goes to Options.Submit with a done callback. Submit
// may block (the engine's queue is full): the reader then reads nothing
// more, so the spool, not pushlua's memory, holds the backlog.
//
// Per file the Reader keeps a watermark: the byte offset up to which every
// line's done was called. Done callbacks arrive out of order (users run in
// parallel), so the watermark stops at the lowest line not done yet. The
// watermarks are written to Options.OffsetsFile (write, fsync, rename) at
// most every Options.SaveInterval and on Close, and a new Reader resumes
// from them: after a crash only the lines in flight run again
// (at-least-once; every line carries a stable id, and a line without one
// gets "<file-stem>-<line>"). A closed file is deleted once every line of
// it is done, and its offset entry dropped.
//
// pushlua's own write-ahead log does not make the Reader read back what
// this process just wrote: it announces a segment (Expect) and hands every
// committed batch over with its decoded transactions (Handoff). Those lines
// go through the same Submit, watermark and offsets as read ones; the
// segment is read only once closed, or when the Reader cannot keep up with
// what is handed over (past maxHanded lines waiting), so the file, not
// memory, still holds a backlog.
//
// Shutting down takes two steps: Stop (read no more lines), then, after
// the engine drained and called the remaining dones, Close (persist the
// final watermarks).
package spool
