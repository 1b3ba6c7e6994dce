package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	bolterrors "go.etcd.io/bbolt/errors"
)

// storeHeld reports whether err says that another process holds the store.
func storeHeld(err error) bool {
	return errors.Is(err, bolterrors.ErrTimeout)
}

// storeHolder names the process that holds the lock on the file at path,
// as "pid 1234 (pushlua serve -c /etc/pushlua.conf)", from Linux's
// /proc/locks; "" when it cannot tell (another OS, another pid namespace).
func storeHolder(path string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return ""
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return ""
	}
	defer f.Close()
	// 1: FLOCK  ADVISORY  WRITE 12209 fe:00:10004525 0 EOF
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		dev := strings.Split(fields[5], ":")
		if len(dev) != 3 {
			continue
		}
		ino, err := strconv.ParseUint(dev[2], 10, 64)
		if err != nil || ino != uint64(st.Ino) {
			continue
		}
		pid := fields[4]
		if pid == strconv.Itoa(os.Getpid()) {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err != nil || len(cmd) == 0 {
			return "pid " + pid
		}
		return fmt.Sprintf("pid %s (%s)", pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	return ""
}

// heldError explains a store that another process holds: who holds it
// (when /proc/locks says) and what to do instead.
func heldError(err error, path, instead string) error {
	who := "another pushlua process"
	if h := storeHolder(path); h != "" {
		who = h
	}
	return fmt.Errorf("%w\n%s holds %s; %s", err, who, path, instead)
}
