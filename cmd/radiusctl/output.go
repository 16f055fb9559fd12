package main

import (
	"encoding/json"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// surviveBrokenPipe makes a write to a closed pipe fail with EPIPE instead
// of killing radiusctl with SIGPIPE, so that a command that prints a
// secret (bypass issue, device add) lives to undo what it could not show.
func surviveBrokenPipe() { signal.Ignore(syscall.SIGPIPE) }

// printRows prints a listing: with --json one object per line, otherwise a
// table with the given header. row turns item i into JSON-able value and
// its table cells.
func printRows[T any](a *app, header []string, items []T, row func(T) (any, []string)) error {
	if a.json {
		enc := json.NewEncoder(a.stdout)
		for _, it := range items {
			obj, _ := row(it)
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, it := range items {
		_, cells := row(it)
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// timeCell formats t for a table; zero prints as the given word.
func timeCell(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

// timeJSON is t for JSON output: RFC 3339 in UTC, or null when zero.
func timeJSON(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// usesCell formats a uses count where 0 means unlimited.
func usesCell(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}
