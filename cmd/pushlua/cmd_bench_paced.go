package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"
)

// The paced modes of `pushlua bench` hand transactions to serve one at a
// time, at b.rate per second, as Dovecot's forwarder does: post1 over
// HTTP, spool through a spool file. At the rates a mail server delivers,
// serve's cost per transaction is mostly what every wakeup costs, which
// the batched serve mode does not show.

// pacer waits until transaction i is due.
type pacer struct {
	start time.Time
	every time.Duration
}

func newPacer(rate float64) pacer {
	p := pacer{start: time.Now()}
	if rate > 0 {
		p.every = time.Duration(float64(time.Second) / rate)
	}
	return p
}

func (p pacer) wait(ctx context.Context, i int) error {
	if p.every == 0 {
		return ctx.Err()
	}
	d := time.Until(p.start.Add(time.Duration(i) * p.every))
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// runPost1 POSTs every transaction alone. Four clients, each with its own
// users (so one user's order is kept), take turns at the pace.
func (b *bencher) runPost1(ctx context.Context, dir, conf, input string, r *benchResult) error {
	return b.serveFed(ctx, dir, conf, input, r, func(s *served, lines [][]byte) error {
		const clients = 4
		ch := make([]chan []byte, clients)
		errc := make(chan error, clients)
		var wg sync.WaitGroup
		for k := range ch {
			ch[k] = make(chan []byte, 64)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var failed error
				for line := range ch[k] {
					if failed == nil {
						failed = post(ctx, s.client, s.base, [][]byte{line})
					}
				}
				errc <- failed
			}()
		}
		p := newPacer(b.rate)
		var err error
		for i, line := range lines {
			if err = p.wait(ctx, i); err != nil {
				break
			}
			ch[userHash(line)%clients] <- line
		}
		for _, c := range ch {
			close(c)
		}
		wg.Wait()
		for range clients {
			if e := <-errc; err == nil {
				err = e
			}
		}
		return err
	})
}

// benchID is the id the generated lines carry; the spool mode gives each
// line the id a forwarder would: the file's name and the line's offset.
var benchID = regexp.MustCompile(`"id":"bench-\d+"`)

// runSpool appends every transaction to a spool file that serve reads
// (pushlua_spool), one write per line as the forwarder makes, and closes
// the file (renamed to .jsonl) at the end.
func (b *bencher) runSpool(ctx context.Context, dir, conf, input string, r *benchResult) error {
	spool := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spool, 0o755); err != nil {
		return err
	}
	text, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	spoolConf := filepath.Join(dir, "pushlua-spool.conf")
	if err := os.WriteFile(spoolConf, append([]byte("pushlua_spool = "+spool+"\n"), text...), 0o644); err != nil {
		return err
	}
	base := fmt.Sprintf("pl-%d-%d-%08x", os.Getpid(), time.Now().Unix(), uint32(time.Now().UnixNano()))
	path := filepath.Join(spool, base+".open")
	err = b.serveFed(ctx, dir, spoolConf, input, r, func(s *served, lines [][]byte) error {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		p := newPacer(b.rate)
		var off int64
		for i, line := range lines {
			if err = p.wait(ctx, i); err != nil {
				break
			}
			id := fmt.Sprintf(`"id":"%s-%d"`, base[len("pl-"):], off)
			out := append(benchID.ReplaceAllLiteral(line, []byte(id)), '\n')
			if _, err = f.Write(out); err != nil {
				break
			}
			off += int64(len(out))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return os.Rename(path, filepath.Join(spool, base+".jsonl"))
	})
	if err != nil {
		return err
	}
	// A closed file read to its end is deleted.
	closed := filepath.Join(spool, base+".jsonl")
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(closed); os.IsNotExist(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pushlua serve processed every line of %s but did not delete it within 30 s", closed)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
