package benchwork

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/pushlua/pushlua/internal/txn"
)

// Every generated line is a valid transaction, and the reference loop
// runs it.
func TestGenerateAndRef(t *testing.T) {
	for _, snaps := range []Snapshots{None, FirstPerUser, Every} {
		var buf bytes.Buffer
		if err := Generate(&buf, 200, 20, snaps, 1); err != nil {
			t.Fatal(err)
		}
		ref, err := NewRef()
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(&buf)
		sc.Buffer(nil, 1<<20)
		n, withMeta := 0, 0
		for sc.Scan() {
			n++
			x, err := txn.Parse(sc.Bytes(), nil)
			if err != nil {
				t.Fatalf("snapshots %d, line %d: %v", snaps, n, err)
			}
			if len(x.Events) != 1 || x.Events[0].Subject == nil || x.Events[0].Snippet == nil {
				t.Fatalf("line %d: not a full MessageNew: %+v", n, x.Events)
			}
			if len(x.Metadata) > 0 {
				withMeta++
			}
			if err := ref.Run(sc.Bytes()); err != nil {
				t.Fatalf("ref, line %d: %v", n, err)
			}
		}
		if n != 200 {
			t.Fatalf("lines: %d; want 200", n)
		}
		want := map[Snapshots]int{None: 0, FirstPerUser: 20, Every: 200}[snaps]
		if withMeta != want {
			t.Errorf("snapshots %d: %d transactions with METADATA; want %d", snaps, withMeta, want)
		}
	}
}

func TestWorkloadsConfig(t *testing.T) {
	for _, w := range Workloads {
		conf := w.Config("http://127.0.0.1:1")
		if !strings.Contains(conf, "push_notification_driver") {
			t.Errorf("%s: config without a driver:\n%s", w.Name, conf)
		}
		if _, ok := Find(w.Name); !ok {
			t.Errorf("Find(%q) failed", w.Name)
		}
	}
}

func BenchmarkRef(b *testing.B) {
	var buf bytes.Buffer
	if err := Generate(&buf, 1000, 100, None, 1); err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	ref, err := NewRef()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := ref.Run(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}
