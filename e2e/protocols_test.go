package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Minimal LMTP and IMAP clients for driving Dovecot.

const ioTimeout = 30 * time.Second

// lmtpDeliver delivers msg (LF line ends) to rcpts in one LMTP
// transaction and wants every recipient accepted and delivered.
func lmtpDeliver(t *testing.T, addr string, rcpts []string, msg string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("LMTP: %v", err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(ioTimeout))
	c := textproto.NewConn(nc)
	expect := func(code int, format string, args ...any) {
		t.Helper()
		if format != "" {
			if err := c.PrintfLine(format, args...); err != nil {
				t.Fatalf("LMTP: %v", err)
			}
		}
		if _, msg, err := c.ReadResponse(code); err != nil {
			t.Fatalf("LMTP %s: %v (%s)", fmt.Sprintf(format, args...), err, msg)
		}
	}
	expect(220, "")
	expect(250, "LHLO client.example.org")
	expect(250, "MAIL FROM:<sender@example.org>")
	for _, r := range rcpts {
		expect(250, "RCPT TO:<%s>", r)
	}
	expect(354, "DATA")
	w := c.DotWriter()
	if _, err := io.WriteString(w, msg); err != nil {
		t.Fatalf("LMTP DATA: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("LMTP DATA: %v", err)
	}
	for _, r := range rcpts {
		if _, msg, err := c.ReadResponse(250); err != nil {
			t.Fatalf("LMTP delivery to %s: %v (%s)", r, err, msg)
		}
	}
	expect(221, "QUIT")
}

// imapConn is an IMAP connection that sends one command at a time.
type imapConn struct {
	nc  net.Conn
	r   *bufio.Reader
	tag int
}

func dialIMAP(t *testing.T, addr string) *imapConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("IMAP: %v", err)
	}
	c := &imapConn{nc: nc, r: bufio.NewReader(nc)}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(ioTimeout))
	if line, err := c.readLine(); err != nil || !strings.HasPrefix(line, "* OK") {
		t.Fatalf("IMAP greeting %q: %v", line, err)
	}
	return c
}

var literalRE = regexp.MustCompile(`\{(\d+)\+?\}$`)

// readLine reads one response line, with any literals it carries inline.
func (c *imapConn) readLine() (string, error) {
	var b strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return b.String() + line, err
		}
		line = strings.TrimRight(line, "\r\n")
		b.WriteString(line)
		m := literalRE.FindStringSubmatch(line)
		if m == nil {
			return b.String(), nil
		}
		n, _ := strconv.Atoi(m[1])
		lit := make([]byte, n)
		if _, err := io.ReadFull(c.r, lit); err != nil {
			return b.String(), err
		}
		b.Write(lit)
	}
}

func (c *imapConn) nextTag() string {
	c.tag++
	return fmt.Sprintf("A%03d", c.tag)
}

// result reads up to the tagged response of tag.
func (c *imapConn) result(tag string) (untagged []string, status string, err error) {
	for {
		line, err := c.readLine()
		if err != nil {
			return untagged, line, err
		}
		if strings.HasPrefix(line, tag+" ") {
			return untagged, strings.TrimPrefix(line, tag+" "), nil
		}
		untagged = append(untagged, line)
	}
}

// ok runs a command and wants OK.
func (c *imapConn) ok(t *testing.T, command string) []string {
	t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(ioTimeout))
	tag := c.nextTag()
	if _, err := fmt.Fprintf(c.nc, "%s %s\r\n", tag, command); err != nil {
		t.Fatalf("IMAP %s: %v", command, err)
	}
	untagged, status, err := c.result(tag)
	if err != nil || !strings.HasPrefix(status, "OK") {
		t.Fatalf("IMAP %s: %s %v", command, status, err)
	}
	return untagged
}

// appendMsg APPENDs msg (LF line ends) to box with flags, as a
// synchronizing literal.
func (c *imapConn) appendMsg(t *testing.T, box, flags, msg string) {
	t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(ioTimeout))
	data := strings.ReplaceAll(msg, "\n", "\r\n")
	tag := c.nextTag()
	if _, err := fmt.Fprintf(c.nc, "%s APPEND %s (%s) {%d}\r\n", tag, box, flags, len(data)); err != nil {
		t.Fatalf("IMAP APPEND: %v", err)
	}
	line, err := c.readLine()
	if err != nil || !strings.HasPrefix(line, "+") {
		t.Fatalf("IMAP APPEND: no continuation: %q %v", line, err)
	}
	if _, err := io.WriteString(c.nc, data+"\r\n"); err != nil {
		t.Fatalf("IMAP APPEND: %v", err)
	}
	if _, status, err := c.result(tag); err != nil || !strings.HasPrefix(status, "OK") {
		t.Fatalf("IMAP APPEND: %s %v", status, err)
	}
}

// multiappendFail APPENDs msg and an empty second message to box in one
// MULTIAPPEND command, which Dovecot refuses ("Can't save a zero byte
// message"): the mailbox transaction, which had saved msg, is rolled back.
func (c *imapConn) multiappendFail(t *testing.T, box, msg string) {
	t.Helper()
	_ = c.nc.SetDeadline(time.Now().Add(ioTimeout))
	data := strings.ReplaceAll(msg, "\n", "\r\n")
	tag := c.nextTag()
	if _, err := fmt.Fprintf(c.nc, "%s APPEND %s {%d}\r\n", tag, box, len(data)); err != nil {
		t.Fatalf("IMAP APPEND: %v", err)
	}
	if line, err := c.readLine(); err != nil || !strings.HasPrefix(line, "+") {
		t.Fatalf("IMAP APPEND: no continuation: %q %v", line, err)
	}
	if _, err := io.WriteString(c.nc, data+" {0}\r\n"); err != nil {
		t.Fatalf("IMAP APPEND: %v", err)
	}
	line, err := c.readLine()
	if err == nil && strings.HasPrefix(line, "+") {
		_, err = io.WriteString(c.nc, "\r\n")
		if err == nil {
			_, line, err = c.result(tag)
		}
	} else if err == nil && strings.HasPrefix(line, tag+" ") {
		line = strings.TrimPrefix(line, tag+" ")
	} else if err == nil {
		_, line, err = c.result(tag)
	}
	if err != nil || !strings.HasPrefix(line, "NO") {
		t.Fatalf("IMAP MULTIAPPEND with an empty message: %q %v, want NO", line, err)
	}
}

func (c *imapConn) logout(t *testing.T) {
	t.Helper()
	c.ok(t, "LOGOUT")
	c.nc.Close()
}
