package conformance

import (
	"fmt"
	"strings"
)

// unifiedDiff returns a unified diff (3 lines of context) from want to
// got, or "" when they are equal.
func unifiedDiff(wantName, gotName string, want, got []string) string {
	ops := diffLines(want, got)
	changed := false
	for _, op := range ops {
		if op.kind != ' ' {
			changed = true
			break
		}
	}
	if !changed {
		return ""
	}
	const ctx = 3
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", wantName, gotName)
	// Group the ops into hunks.
	i := 0
	for i < len(ops) {
		// Find the next change.
		j := i
		for j < len(ops) && ops[j].kind == ' ' {
			j++
		}
		if j == len(ops) {
			break
		}
		start := max(j-ctx, i)
		// Extend the hunk while changes are within 2*ctx of each other.
		end := j
		for {
			for end < len(ops) && ops[end].kind != ' ' {
				end++
			}
			k := end
			for k < len(ops) && ops[k].kind == ' ' && k-end < 2*ctx {
				k++
			}
			if k < len(ops) && ops[k].kind != ' ' {
				end = k
				continue
			}
			break
		}
		stop := min(end+ctx, len(ops))
		a0, b0 := ops[start].a, ops[start].b
		na, nb := 0, 0
		for _, op := range ops[start:stop] {
			a0, b0 = min(a0, op.a), min(b0, op.b)
			if op.kind != '+' {
				na++
			}
			if op.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&b, "@@ -%s +%s @@\n", hunkRange(a0, na), hunkRange(b0, nb))
		for _, op := range ops[start:stop] {
			b.WriteByte(op.kind)
			b.WriteString(op.text)
			b.WriteByte('\n')
		}
		i = stop
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprint(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

type diffOp struct {
	kind byte // ' ', '-', '+'
	text string
	a, b int // line index in want and got where the op starts
}

// diffLines computes a shortest edit script with a longest common
// subsequence table (inputs here are small).
func diffLines(a, b []string) []diffOp {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], i, j})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, diffOp{'+', b[j], i, j})
			j++
		default:
			ops = append(ops, diffOp{'-', a[i], i, j})
			i++
		}
	}
	// Put deletions before insertions inside each changed run, as diff does.
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		e := k
		for e < len(ops) && ops[e].kind != ' ' {
			e++
		}
		run := append([]diffOp(nil), ops[k:e]...)
		p := k
		for _, op := range run {
			if op.kind == '-' {
				ops[p] = op
				p++
			}
		}
		for _, op := range run {
			if op.kind == '+' {
				ops[p] = op
				p++
			}
		}
		k = e
	}
	return ops
}
