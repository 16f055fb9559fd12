// Command radiusctl administers radgate: users, devices, bypass codes, the
// audit log and backups. It opens the store named in the server's config
// file directly, which is safe beside a running radiusd.
//
// Exit status: 0 on success, 1 when the store refuses or fails, 2 on bad
// usage.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one radiusctl command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := app.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	app.close()
	if err == nil {
		return 0
	}
	// One line, as scripts expect: errors that list several problems
	// (a config with two mistakes, two upstreams down) are joined with "; ".
	fmt.Fprintf(stderr, "radiusctl: %s\n", oneLine(err.Error()))
	var failed commandError
	if errors.As(err, &failed) {
		return 1
	}
	return 2
}

// usageError marks a command line that does not parse (exit 2) when it is
// found inside a command, such as a malformed duration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// commandError marks a failure or refusal of a well-formed command (exit 1).
// Errors cobra returns before a command runs (unknown command or flag,
// wrong argument count) are not wrapped and so exit 2.
type commandError struct{ err error }

func (e commandError) Error() string { return e.err.Error() }
func (e commandError) Unwrap() error { return e.err }

// oneLine joins the non-empty lines of msg, trimmed, with "; ".
func oneLine(msg string) string {
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
